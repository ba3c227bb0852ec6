import sys

from infra.guardrails.cli import main

sys.exit(main())
