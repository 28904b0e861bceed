"""The maintenance switch: a file `offline` in the state dir makes every call and upload
answer ServerOffline (fault 1014), as kojixmlrpc does with ServerOffline = On."""
import os

import koji
import pytest

from conftest import Hub


def test_offline_file_answers_server_offline_until_removed(tmp_path):
    hub = Hub(tmp_path / 'state').start()
    try:
        session = hub.login('kojiuser')
        assert session.getAPIVersion() == 1
        switch = os.path.join(hub.state_dir, 'offline')
        open(switch, 'w').close()
        with pytest.raises(koji.ServerOffline) as e:
            session.getLoggedInUser()
        assert str(e.value) == 'server is offline'
        with open(switch, 'w') as f:
            f.write('database upgrade\n')
        with pytest.raises(koji.ServerOffline) as e:
            hub.anon().getAPIVersion()
        assert str(e.value) == 'database upgrade'
        os.unlink(switch)
        # the session is still good: offline calls never reached the hub's logic
        assert session.getLoggedInUser()['name'] == 'kojiuser'
    finally:
        hub.stop()
