"""`create_api_key NAME [--scope read|write] [--expires DAYS]`: prints the new
key (`prefix.secret`) once, on its own line; only its hash is stored."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from slo_engine.models import ApiKey, ApiKeyScope


class Command(BaseCommand):
    help = "Create an API key and print it once."

    def add_arguments(self, parser):
        parser.add_argument("name", help="who or what uses the key (shown in audit fields)")
        parser.add_argument("--scope", choices=ApiKeyScope.values, default=ApiKeyScope.READ)
        parser.add_argument("--expires", type=int, default=None, metavar="DAYS", help="expire after DAYS days")

    def handle(self, *args, name: str, scope: str, expires: int | None, **options):
        if not name.strip():
            raise CommandError("NAME must not be empty.")
        if expires is not None and expires < 1:
            raise CommandError("--expires must be at least 1 day.")
        expiry = timezone.now() + timedelta(days=expires) if expires else None
        api_key, key = ApiKey.objects.create_key(name=name.strip(), scope=scope, expiry_date=expiry)
        until = f"until {expiry:%Y-%m-%d %H:%M} UTC" if expiry else "with no expiry"
        self.stderr.write(f"Created {scope} key {api_key.name!r} (prefix {api_key.prefix}) {until}. "
                          "Store it now; it cannot be shown again:")
        self.stdout.write(key)
