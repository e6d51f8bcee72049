"""Write the fleet's SLOs of record as SLO-as-code: one file per service."""

from itertools import groupby
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from slos.exporters import EXPORT_FORMATS, ExportError, export_file_name, export_slos
from slos.selectors import slo_list_active


class Command(BaseCommand):
    help = ("Export every active SLO as OpenSLO, Sloth or Prometheus rules into --out, one file per service "
            "(for an SLO-as-code repository). Files of services that no longer have an SLO are left alone.")

    def add_arguments(self, parser):
        parser.add_argument("--format", required=True, choices=EXPORT_FORMATS)
        parser.add_argument("--out", required=True, help="directory to write into (created if missing)")
        parser.add_argument("--team", default="", help="only this team's services")

    def handle(self, *args, format: str, out: str, team: str, **options):
        directory = Path(out)
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CommandError(f"cannot create {directory}: {exc}") from exc
        slos = list(slo_list_active(filters={"team": team} if team else {}).order_by("service__service_id"))
        by_service = [(service_id, list(group))
                      for service_id, group in groupby(slos, key=lambda s: s.service.service_id)]
        for index, (service_id, group) in enumerate(by_service, start=1):
            path = directory / export_file_name(service_id, format)
            try:
                path.write_text(export_slos(group, export_format=format))
            except ExportError as exc:
                raise CommandError(f"{service_id}: {exc} ({exc.field})") from exc
            self.stderr.write(f"[{index}/{len(by_service)}] {path}")
        self.stdout.write(self.style.SUCCESS(
            f"{len(slos)} SLOs of {len(by_service)} services written to {directory} as {format}"))
