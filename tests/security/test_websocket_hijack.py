"""Cross-site WebSocket hijacking, against gunicorn on 127.0.0.1.

A page on another site can make the victim's browser open a Socket.IO connection to Tradeoff:
the browser attaches the victim's cookie (SameSite=Lax does not stop a WebSocket handshake in
every browser) but cannot forge the Origin header. So a handshake with a valid session cookie
and a foreign (or opaque ``null``) Origin must be refused — over long-polling, over a direct
WebSocket and through the python-socketio client — while the same cookie from the page's own
origin connects (the control that proves the refusals are about the Origin). Without a session
there is no connection at all."""

from __future__ import annotations

import pytest
import socketio
import websocket

from tests.security.attack_server import RawSocket, logged_in, polling_handshake, serve

FOREIGN = ["https://evil.example", "null", "http://127.0.0.1.evil.example"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from serve(tmp_path_factory)


@pytest.fixture(scope="module")
def member(server):
    return logged_in(server, "member")


def own_origin(server) -> str:
    return server.url


def sio_client():
    return socketio.Client(reconnection=False, request_timeout=15)


def test_control_the_members_cookie_connects_from_the_pages_origin(server, member):
    r = polling_handshake(server, cookie=member.cookie_header(), origin=own_origin(server))
    assert r.status_code == 200 and r.text.startswith("0{")
    raw = RawSocket(server, cookie=member.cookie_header(), origin=own_origin(server))
    try:
        assert raw.connect(server.world["review_id"]) == "connected"
    finally:
        raw.close()
    client = sio_client()
    client.connect(server.url, headers={"Cookie": member.cookie_header()}, transports=["websocket"],
                   auth={"review": server.world["review_id"]}, wait_timeout=15)
    try:
        assert client.connected
    finally:
        client.disconnect()


@pytest.mark.parametrize("origin", FOREIGN)
def test_foreign_origin_polling_handshake_is_refused(server, member, origin):
    r = polling_handshake(server, cookie=member.cookie_header(), origin=origin)
    assert r.status_code == 400, (r.status_code, r.text[:200])
    assert '"sid"' not in r.text  # no Engine.IO session was opened
    assert r.headers.get("Access-Control-Allow-Origin") != origin


@pytest.mark.parametrize("origin", FOREIGN)
def test_foreign_origin_websocket_handshake_is_refused(server, member, origin):
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        RawSocket(server, cookie=member.cookie_header(), origin=origin)
    assert refused.value.status_code == 400


@pytest.mark.parametrize("transport", ["polling", "websocket"])
@pytest.mark.parametrize("origin", FOREIGN)
def test_foreign_origin_socketio_client_is_refused(server, member, origin, transport):
    if transport == "websocket":
        client = socketio.Client(reconnection=False, request_timeout=15,
                                 websocket_extra_options={"origin": origin})
        headers = {"Cookie": member.cookie_header()}
    else:
        client = sio_client()
        headers = {"Cookie": member.cookie_header(), "Origin": origin}
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(server.url, headers=headers, transports=[transport],
                       auth={"review": server.world["review_id"]}, wait_timeout=15)
    assert not client.connected


@pytest.mark.parametrize("cookie", [None, "session=forged.value.here", "tradeoff_lb=abc"])
def test_no_session_no_connection(server, cookie):
    """Refused at the Engine.IO handshake (401), before a WebSocket is opened."""
    r = polling_handshake(server, cookie=cookie, origin=own_origin(server))
    assert r.status_code == 401 and '"sid"' not in r.text
    r = polling_handshake(server, cookie=cookie)  # not a browser: no Origin at all
    assert r.status_code == 401
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        RawSocket(server, cookie=cookie)
    assert refused.value.status_code == 401
    client = sio_client()
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(server.url, headers={"Cookie": cookie} if cookie else {},
                       transports=["websocket"], auth={"review": server.world["review_id"]},
                       wait_timeout=15)


def test_a_logged_in_outsider_gets_no_room(server):
    """A session, but not a member of that review's team: the namespace connect is refused."""
    outsider = logged_in(server, "non_member")
    raw = RawSocket(server, cookie=outsider.cookie_header())
    try:
        assert raw.connect(server.world["review_id"]).startswith("refused")
        # ... and nothing can be done on the same Engine.IO connection afterwards.
        raw.emit("heartbeat", {"review_id": server.world["review_id"]}, ack=False)
        assert raw.connect(server.world["review_id"]).startswith("refused")
    finally:
        raw.close()
