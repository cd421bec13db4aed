from django.core.management.base import BaseCommand, CommandError

from ordersync.counters import crypto, services
from ordersync.counters.errors import TokenDecryptError


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored Yandex token under the newest key of "
        "ORDERSYNC_TOKEN_KEYS. Drop an old key only after this reports success."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--generate-key",
            action="store_true",
            help="Print a new random key to put in front of ORDERSYNC_TOKEN_KEYS.",
        )

    def handle(self, *args, generate_key: bool = False, **options):
        if generate_key:
            self.stdout.write(crypto.generate_key())
            return
        try:
            report = services.token_keys_rotate()
        except TokenDecryptError as exc:
            raise CommandError(
                f"{exc} Nothing was changed: put the old key back at the end of "
                "ORDERSYNC_TOKEN_KEYS and run the command again."
            ) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"{report.accounts} account(s) with tokens; {report.rotated} "
                "re-encrypted under the newest key. All tokens now open with it."
            )
        )
