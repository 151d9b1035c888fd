from tests.web.factories import World


def test_world_on_postgresql(world: World) -> None:
    from django.db import connection

    assert connection.vendor == "postgresql"
    assert world.call.criteria.count() == 2
