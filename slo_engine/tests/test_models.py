import pytest
from django.db import IntegrityError, transaction

from slo_engine.models import ApiKey

pytestmark = pytest.mark.django_db


def test_keys_are_stored_hashed():
    api_key, key = ApiKey.objects.create_key(name="ci", scope="write")
    stored = ApiKey.objects.get(pk=api_key.pk)
    assert key not in stored.hashed_key
    assert key.split(".", 1)[1] not in stored.hashed_key
    assert ApiKey.objects.is_valid(key)
    assert not ApiKey.objects.is_valid(key + "x")


def test_unknown_scope_is_rejected():
    api_key, _ = ApiKey.objects.create_key(name="ci")
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiKey.objects.filter(pk=api_key.pk).update(scope="admin")
