"""`python -m mailer_cli`, the same as the `mailer` command."""

import sys

from mailer_cli.main import main

sys.exit(main())
