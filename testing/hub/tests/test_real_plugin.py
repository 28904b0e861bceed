"""The hub plugin of this repo (plugins/hub/osbuild.py), loaded by the test hub with Koji's
plugin loader. Skipped while the plugin does not exist."""
import os

import koji
import pytest

from conftest import HUB_DIR, Hub

PLUGIN_DIR = os.path.join(os.path.dirname(os.path.dirname(HUB_DIR)), 'plugins', 'hub')

pytestmark = pytest.mark.skipif(not os.path.exists(os.path.join(PLUGIN_DIR, 'osbuild.py')),
                                reason='plugins/hub/osbuild.py not written yet')


@pytest.fixture(scope='module')
def real_hub(tmp_path_factory):
    h = Hub(tmp_path_factory.mktemp('realplugin'), plugin_path=PLUGIN_DIR).start()
    yield h
    h.stop()


def test_osbuild_image_through_the_real_plugin(real_hub):
    args = ('demo-image', '42', 'fedora-42', 'guest-image', 'fedora42-candidate', ['x86_64'])
    with pytest.raises(koji.ActionNotAllowed,
                       match=r'^image permission required \(user not logged in\)$'):
        real_hub.anon().osbuildImage(*args, opts={})
    with pytest.raises(koji.ActionNotAllowed,
                       match=r'^image permission required \(logged in as nobody\)$'):
        real_hub.login('nobody').osbuildImage(*args, opts={})
    s = real_hub.login('kojiuser')
    task_id = s.osbuildImage(*args, opts={})
    info = s.getTaskInfo(task_id, request=True)
    assert info['method'] == 'osbuildImage'
    assert info['channel_id'] == s.getChannel('image')['id']
    assert info['request'][:6] == list(args)
    with pytest.raises(koji.ParameterError):
        s.osbuildImage('demo-image', '42', 'fedora-42', 'guest-image', 'fedora42-candidate',
                       [], opts={})


def test_admins_and_priorities_through_the_real_plugin(real_hub):
    # The admin rules come from the hub's session code (kojihub/auth.py's
    # assertPerm lets an admin through, hasPerm does not), not from a fake.
    args = ('demo-image', '42', 'fedora-42', 'guest-image', 'fedora42-candidate', ['x86_64'])
    admin = real_hub.login('admin')
    assert admin.getPerms() == ['admin']
    task_id = admin.osbuildImage(*args, opts={}, priority=-5)
    assert admin.getTaskInfo(task_id)['priority'] == koji.PRIO_DEFAULT - 5

    user = real_hub.login('kojiuser')
    with pytest.raises(koji.ActionNotAllowed,
                       match=r'^only admins may create high-priority tasks$'):
        user.osbuildImage(*args, opts={}, priority=-5)
    task_id = user.osbuildImage(*args, opts={}, priority=3)
    assert user.getTaskInfo(task_id)['priority'] == koji.PRIO_DEFAULT + 3


def test_build_tag_arches_through_the_real_plugin(real_hub):
    """The plugin reads the build tag's arches with the hub's own getBuildConfig
    (kojihub.RootExports), so an editTag2 shows at once."""
    s = real_hub.login('kojiuser')
    admin = real_hub.login('admin')
    args = ('demo-image', '42', 'fedora-42', 'guest-image', 'fedora42-candidate')
    with pytest.raises(koji.ParameterError, match='has no s390x'):
        s.osbuildImage(*args, ['s390x'], opts={})
    with pytest.raises(koji.ActionNotAllowed, match='tag permission required'):
        s.editTag2('fedora42-build', arches='x86_64 aarch64 s390x')
    with pytest.raises(koji.ParameterError, match='edits only arches, not locked'):
        admin.editTag2('fedora42-build', locked=True)
    admin.editTag2('fedora42-build', arches='x86_64 aarch64 s390x')
    try:
        assert s.getBuildConfig('fedora42-build')['arches'] == 'x86_64 aarch64 s390x'
        assert s.osbuildImage(*args, ['s390x'], opts={})
    finally:
        admin.editTag2('fedora42-build', arches='x86_64 aarch64')
