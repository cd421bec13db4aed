"""``manage.py check_orders``: the order-file engine's command line."""

from django.core.management.base import BaseCommand

from ordersync.orderfile import cli


class Command(BaseCommand):
    help = "Check a CRM order export and write the CSV Metrika would get."

    def add_arguments(self, parser):
        cli.add_arguments(parser)

    def handle(self, *args, **options):
        code = cli.run(_Args(options), self.stdout, self.stderr)
        if code:
            # The message is already on stderr; CommandError would print another.
            raise SystemExit(code)


class _Args:
    def __init__(self, options: dict) -> None:
        self.__dict__.update(options)
