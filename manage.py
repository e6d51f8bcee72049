#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "slo_engine.settings")
    from django.core.management import execute_from_command_line

    from slo_engine.tracing import configure_tracing_for_command

    configure_tracing_for_command(sys.argv)

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
