"""The infra pull-request review: what a reviewer reads instead of a raw plan.

Pure core over two sets of synthesized documents per environment, then renderers:

    from infra.review import Inputs, diff, load_params, render_markdown
    review = diff({"prod": base_doc}, {"prod": head_doc}, Inputs(load_params(Path("policies"))))
    print(render_markdown(review))

``python -m infra.review --base REF`` does the git and synth work around it (``make review``).
"""

from __future__ import annotations

from infra.review.diff import Inputs, diff
from infra.review.errors import ReviewError
from infra.review.model import Review
from infra.review.params import ReviewParams, load_params
from infra.review.render import GITHUB_COMMENT_LIMIT, render_json, render_markdown

__all__ = [
    "GITHUB_COMMENT_LIMIT",
    "Inputs",
    "Review",
    "ReviewError",
    "ReviewParams",
    "diff",
    "load_params",
    "render_json",
    "render_markdown",
]
