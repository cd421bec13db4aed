import json
import secrets
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from ordersync.core.permissions import ADMINS_GROUP, MARKETERS_GROUP
from ordersync.counters import crypto
from ordersync.counters.models import Counter, CounterGrant, YandexAccount
from ordersync.metrika.emulator import DEMO_SEED
from ordersync.metrika.types import token_fingerprint

DEMO_USERS = [
    ("admin", ADMINS_GROUP, True),
    ("marketer", MARKETERS_GROUP, False),
]
DEMO_LOGIN = "demo-agency"
# Both are added; the marketer gets the first.
DEMO_COUNTERS = [90000001, 90000002]


class Command(BaseCommand):
    help = (
        "Create the demo admin and marketer (passwords printed once) and connect "
        "the emulator's demo Yandex account with two counters."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help="Give the demo users new passwords and print them.",
        )

    @transaction.atomic
    def handle(self, *args, reset_passwords: bool = False, **options):
        User = get_user_model()
        users = {}
        for username, group_name, is_admin in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"is_staff": is_admin, "is_superuser": is_admin},
            )
            user.groups.add(Group.objects.get(name=group_name))
            users[username] = user
            if created or reset_passwords:
                password = secrets.token_urlsafe(12)
                user.set_password(password)
                user.save()
                self.stdout.write(
                    self.style.SUCCESS(f"Demo user {username!r}, password: {password}")
                )
            else:
                self.stdout.write(
                    f"Demo user {username!r} exists (new password: "
                    "python manage.py seed_demo --reset-passwords)."
                )
        self._demo_account(users["admin"], users["marketer"])

    def _demo_account(self, admin, marketer) -> None:
        """Store the emulator's demo account from its seed file, without calling it.

        The emulator may not be running yet; the stored values are what it will
        answer once it is.
        """
        seed = json.loads(DEMO_SEED.read_text())
        uid = next(a["uid"] for a in seed["accounts"] if a["login"] == DEMO_LOGIN)
        token = next(t for t in seed["tokens"] if t["login"] == DEMO_LOGIN)
        # The emulator starts from its seed on every run and forgets tokens it
        # issued before, so the demo account always gets the seed's token back.
        tokens = {
            "status": YandexAccount.Status.ACTIVE,
            "source": YandexAccount.Source.OAUTH,
            "access_token_encrypted": crypto.encrypt(token["access_token"]),
            "refresh_token_encrypted": crypto.encrypt(token["refresh_token"]),
            "token_fingerprint": token_fingerprint(token["access_token"]),
            "scopes": token["scopes"],
            "expires_at": datetime.fromisoformat(token["expires_at"]),
            "token_obtained_at": timezone.now(),
            "last_error": "",
        }
        account = YandexAccount.objects.filter(uid=uid).first()
        if account is not None:
            YandexAccount.objects.filter(pk=account.pk).update(**tokens)
            self.stdout.write(
                f"Demo Yandex account {DEMO_LOGIN!r} exists; its token was reset "
                "to the emulator's seed."
            )
            return
        account = YandexAccount.objects.create(
            uid=uid,
            login=DEMO_LOGIN,
            counters_reachable=sum(
                1 for c in seed["counters"] if self._permission(c) is not None
            ),
            connected_by=admin,
            **tokens,
        )
        for item in seed["counters"]:
            if item["id"] not in DEMO_COUNTERS:
                continue
            counter = Counter.objects.create(
                account=account,
                metrika_id=item["id"],
                name=item["name"],
                site=item["site"],
                time_zone_name=item["time_zone_name"],
                permission=self._permission(item),
                added_by=admin,
            )
            if item["id"] == DEMO_COUNTERS[0]:
                CounterGrant.objects.create(
                    counter=counter, user=marketer, granted_by=admin
                )
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo Yandex account {DEMO_LOGIN!r} connected with counters "
                f"{DEMO_COUNTERS}; 'marketer' may upload to {DEMO_COUNTERS[0]}."
            )
        )

    @staticmethod
    def _permission(counter: dict) -> str | None:
        if counter["owner_login"] == DEMO_LOGIN:
            return "own"
        return counter.get("grants", {}).get(DEMO_LOGIN)
