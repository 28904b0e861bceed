"""An osbuildImage handler shaped, for kojid's shutdown, as upstream's
builder plugin is: the task process itself waits for the compose, polling
every 2 s (upstream's ``Client.wait_for_compose``), with no process of its
own below it. Only for the kojid stop benchmark
(tests/benches/kojid_stop.rs), to compare with plugins/builder/osbuild.py.
"""

import time

from koji.tasks import BaseTaskHandler


class OSBuildImage(BaseTaskHandler):
    Methods = ['osbuildImage']
    _taskWeight = 0.2

    # pylint: disable=arguments-differ,unused-argument
    def handler(self, name, version, distro, image_type, target, arches, opts):
        while True:
            time.sleep(2)
