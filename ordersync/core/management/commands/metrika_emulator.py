from django.core.management.base import BaseCommand

from ordersync.metrika.emulator import DEMO_SEED, serve


class Command(BaseCommand):
    help = "Run the Metrika + Yandex OAuth emulator (default seed: the demo account)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument(
            "--host",
            default="127.0.0.1",
            help="Interface to bind; keep loopback, the admin API has no auth.",
        )
        parser.add_argument("--seed", default=str(DEMO_SEED), help="Seed JSON file.")

    def handle(self, *args, port: int, host: str, seed: str, **options):
        def ready(server):
            self.stdout.write(
                f"Metrika emulator on {server.url} (seed {seed}); "
                f"admin API at {server.url}/_emulator/state. Ctrl+C stops it."
            )
            self.stdout.flush()

        serve(host=host, port=port, seed=seed, ready=ready)
