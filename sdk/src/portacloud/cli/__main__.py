"""``python -m portacloud.cli``."""

from portacloud.cli.main import main

main()
