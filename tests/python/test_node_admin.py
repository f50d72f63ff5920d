"""arraykit.Node.connect and Node.serve_admin: a member reached through its admin socket."""
import os
import stat

import pytest

import arraykit

A = "a.example.com"


def test_connect_reaches_a_served_member(tmp_path):
    network = arraykit.MemoryNetwork()
    data_dir = tmp_path / "a"
    with arraykit.Node(str(data_dir), name=A, network=network) as local:
        local.serve_admin()
        socket = data_dir / "admin.sock"
        assert stat.S_ISSOCK(os.lstat(socket).st_mode)
        assert stat.S_IMODE(os.lstat(socket).st_mode) == 0o600
        remote = arraykit.Node.connect(str(data_dir))
        position = remote.put("sessions", "s1", {"user": "ann"})
        assert set(position) == {"epoch", "index"}
        assert local.get("sessions", "s1") == {"user": "ann"}
        assert remote.list("sessions") == {"s1": {"user": "ann"}}
        assert remote.status()["name"] == A
        with pytest.raises(arraykit.Error) as refused:
            remote.sync_resources()
        assert refused.value.reason == "remote_node"
        remote.close()  # leaves the member running
        assert local.status()["name"] == A
    with pytest.raises(arraykit.Error) as gone:
        arraykit.Node.connect(str(data_dir))
    assert gone.value.reason == "not_contactable"
    assert "no arrayd is listening on" in str(gone.value)
