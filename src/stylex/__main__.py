import sys

from stylex.cli import main

sys.exit(main())
