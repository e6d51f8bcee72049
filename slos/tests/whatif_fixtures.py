"""The hand-built shop graph shared by the what-if tests.

frontend -> checkout, mobile -> checkout, checkout -> cart, checkout ->
payment, cart -> payment (payment: two paths), checkout <-> fraud (a cycle),
admin -> payment; checkout -> email is soft and checkout -> queue async, so
neither counts.
"""

from graph.tests.factories import ServiceDependencyFactory, ServiceFactory
from recommendations.tests.factories import SloRecommendationFactory
from slos.tests.factories import SloFactory

HARD_SYNC = [("frontend", "checkout"), ("mobile", "checkout"), ("checkout", "cart"), ("checkout", "payment"),
             ("cart", "payment"), ("checkout", "fraud"), ("fraud", "checkout"), ("admin", "payment")]
OBSERVED = {"checkout": 0.9991, "cart": 0.9995, "payment": 0.999, "fraud": 0.9993, "frontend": 0.9999,
            "mobile": 0.9998, "admin": 0.9999, "email": 0.9, "queue": 0.9}
SLOS = {"checkout": 0.998, "frontend": 0.997, "admin": 0.99, "payment": 0.9995}


def build_shop() -> None:
    def edge(a, b, **attributes):
        ServiceDependencyFactory(source=ServiceFactory(service_id=a), target=ServiceFactory(service_id=b),
                                 **attributes)

    for a, b in HARD_SYNC:
        edge(a, b)
    edge("checkout", "email", criticality="soft")
    edge("checkout", "queue", communication_mode="async")
    for name, observed in OBSERVED.items():
        SloRecommendationFactory(service=ServiceFactory(service_id=name), observed=observed)
    for name, target in SLOS.items():
        SloFactory(service=ServiceFactory(service_id=name), target=target)
