import factory
from django.utils import timezone

from graph.models import CircularDependencyAlert, Service, ServiceDependency


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service
        django_get_or_create = ("service_id",)

    service_id = factory.Sequence(lambda n: f"svc-{n}")
    display_name = factory.LazyAttribute(lambda o: o.service_id.replace("-", " ").title())
    team = "platform"
    criticality = "medium"


class ServiceDependencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceDependency

    source = factory.SubFactory(ServiceFactory)
    target = factory.SubFactory(ServiceFactory)
    communication_mode = "sync"
    criticality = "hard"
    protocol = "grpc"
    discovery_source = "manual"
    confidence_score = 1.0
    last_observed_at = factory.LazyFunction(timezone.now)


class CircularDependencyAlertFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CircularDependencyAlert

    cycle_path = factory.Sequence(lambda n: [f"a-{n}", f"b-{n}"])
    status = "open"
    scc_size = 2
    detected_at = factory.LazyFunction(timezone.now)
    last_seen_at = factory.LazyFunction(timezone.now)
