"""``generate-data --model marketing_churn_gbm --env dev --rows 5000 [--seed N] [drift options]``.

Writes synthetic churn rows to the model's training table (``features.<data.table>``) as a new
Delta version and prints the version. Drift options apply from ``--drift-start-day`` on.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ml_jobs import cli
from ml_jobs.errors import EXIT_OK, BadInput


def _mixes(pairs: Sequence[str]) -> dict[str, dict[str, float]]:
    """``["contract_type=month_to_month:0.8,one_year:0.1,two_year:0.1"]`` -> nested dict."""
    out: dict[str, dict[str, float]] = {}
    for pair in pairs:
        column, _, spec = pair.partition("=")
        try:
            out[column] = {k: float(v) for k, v in (item.split(":") for item in spec.split(","))}
        except ValueError as exc:
            raise BadInput(f"--mix {pair!r}: expected column=category:share,category:share") from exc
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = cli.parser("generate-data", "Write synthetic churn data to the model's training table.")
    p.add_argument("--rows", type=int, default=5000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--start", default="2025-01-01", help="First event date (UTC, YYYY-MM-DD).")
    p.add_argument("--days", type=int, default=90, help="Rows are spread over this many days.")
    p.add_argument("--mode", choices=("append", "overwrite"), default="append")
    p.add_argument("--drift-start-day", type=int, default=None, help="Day (after --start) drift begins.")
    p.add_argument("--shift", action="append", default=[], metavar="COLUMN=STDS", help="Mean shift in stds.")
    p.add_argument("--scale", action="append", default=[], metavar="COLUMN=FACTOR", help="Spread factor.")
    p.add_argument("--mix", action="append", default=[], metavar="COLUMN=CAT:P,...", help="Category mix.")
    p.add_argument("--concept", type=float, default=0.0, help="Concept drift strength 0..1.")
    args = p.parse_args(argv)

    def job() -> tuple[int, dict[str, Any]]:
        from ml_jobs.data.generate import COLUMNS, DriftSpec, generate_churn

        ctx = cli.context(args)
        data = ctx.spec.model.data
        wanted = {data.id_column, data.timestamp_column, *data.features, data.label}
        if not wanted <= set(COLUMNS):
            raise BadInput(
                f"generate-data makes churn columns; model {args.model} needs "
                f"{sorted(wanted - set(COLUMNS))} which it cannot produce"
            )
        drift = None
        if args.drift_start_day is not None:
            try:
                drift = DriftSpec(
                    args.drift_start_day,
                    cli.key_values(args.shift, "--shift"),
                    cli.key_values(args.scale, "--scale"),
                    _mixes(args.mix),
                    args.concept,
                )
            except ValueError as exc:
                raise BadInput(str(exc)) from exc
        start = datetime.fromisoformat(args.start).replace(tzinfo=UTC)
        frame = generate_churn(args.rows, args.seed, start, args.days, drift)
        if args.mode == "overwrite":
            version = ctx.runtime.write_table(frame, "features", data.table, mode="overwrite")
        else:  # rows are keyed by (id, timestamp): the same seed appended twice adds nothing
            keys = (data.id_column, data.timestamp_column)
            version = ctx.runtime.merge_table(frame, "features", data.table, keys=keys).version
        return EXIT_OK, {
            "table": ctx.runtime.table_ref("features", data.table),
            "version": version,
            "rows": len(frame),
            "churn_rate": float(frame[data.label].mean()),
        }

    return cli.run(job)


if __name__ == "__main__":
    sys.exit(main())
