from __future__ import annotations

import itertools

import pytest
import redis

from tests.scaleout.cluster import NGINX, Browser, Cluster, OwnRedis, free_port
from tests.services import REDIS_URL, fresh_postgres_database, require


@pytest.fixture
def cluster(tmp_path, request):
    """Two app processes on PostgreSQL + Redis behind nginx, with the demo data loaded.

    Options (``indirect`` parametrization): ``own_redis`` (a redis-server the test may stop),
    ``limit`` (login rate limit), ``scheduler_interval`` (seconds; the scheduler is off without
    it), ``lease`` (BENCHMARK_PARSE_LEASE_S), ``progress_interval``
    (BENCHMARK_PROGRESS_INTERVAL_S), ``voters`` (that many extra voting members,
    ``cluster.voters`` lists them)."""
    if NGINX is None:
        pytest.skip("needs nginx from Debian's packages")
    options = getattr(request, "param", {})
    db_url, drop = fresh_postgres_database()
    own_redis = OwnRedis(tmp_path) if options.get("own_redis") else None
    if own_redis:
        redis_url = own_redis.start()
    else:
        require(REDIS_URL, "Redis")
        redis_url = REDIS_URL.rsplit("/", 1)[0] + "/7"
    redis.Redis.from_url(redis_url).flushdb()
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        "HOME": str(tmp_path),
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "scale-out-test-secret-key-" + "x" * 20,
        "TRADEOFF_PROXY_COUNT": "1",
        "TRADEOFF_EXPOSE_NODE": "1",
        "TRADEOFF_INSTANCE_PATH": str(tmp_path / "instance"),
        "LOGIN_RATE_LIMIT": options.get("limit", "100 per minute"),
        "TRADEOFF_SCHEDULER": "on" if options.get("scheduler_interval") else "off",
        "TRADEOFF_SCHEDULER_INTERVAL": options.get("scheduler_interval", "15"),
        "BENCHMARK_PARSE_LEASE_S": options.get("lease", "60"),
        "BENCHMARK_PROGRESS_INTERVAL_S": options.get("progress_interval", "1"),
    }
    c = Cluster(env=env, tmp=tmp_path)
    c.redis = own_redis
    c.flask("db", "upgrade")
    c.flask("demo")
    c.voters = c.seed_voters(options["voters"]) if options.get("voters") else []
    c.app_ports = [free_port(), free_port()]
    try:
        for port in c.app_ports:
            c.start_app(port)
        c.start_nginx()
        yield c
    finally:
        c.stop()
        if own_redis:
            own_redis.stop()
        else:
            redis.Redis.from_url(redis_url).flushdb()
        drop()


@pytest.fixture
def browsers(cluster):
    """Open browsers pinned to different app processes: browsers(n) -> [Browser], one per
    process in turn."""
    made: list[Browser] = []
    counter = itertools.count()

    def open_on_distinct_nodes(n: int) -> list[Browser]:
        wanted, seen = [], {}
        while len(wanted) < n:
            b = Browser(cluster, f"lb{next(counter)}")
            node = b.node
            if seen.get(node, 0) < (n + 1) // 2:
                seen[node] = seen.get(node, 0) + 1
                wanted.append(b)
        made.extend(wanted)
        return sorted(wanted, key=lambda b: b.node)

    yield open_on_distinct_nodes
    for b in made:
        b.close()
