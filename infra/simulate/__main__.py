import sys

from infra.simulate.cli import main

sys.exit(main())
