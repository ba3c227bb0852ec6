import sys

from infra.review.cli import main

sys.exit(main())
