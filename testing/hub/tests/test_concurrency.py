"""Many clients at once: requests are serialized on the state, none is lost."""
import threading

import koji

from conftest import cancel_unfinished


def test_parallel_clients(hub, tmp_path):
    ids, errors = [], []
    src = tmp_path / 'blob'
    src.write_bytes(b'x' * 300000)

    def submit(n):
        try:
            s = hub.login('kojiuser')
            for _ in range(5):
                ids.append(s.osbuildImage('demo-image', '42', 'fedora-42', 'guest-image',
                                          'fedora42-candidate', ['x86_64'], opts={}))
            s.fastUpload(str(src), 'scratch-%d' % n, 'blob', blocksize=65536)
            assert s.checkUpload('scratch-%d' % n, 'blob')['size'] == 300000
        except Exception as e:  # collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(ids)) == 40
    states = {t['state'] for t in hub.anon().getTaskInfo(ids)}
    assert states <= {koji.TASK_STATES['FREE'], koji.TASK_STATES['ASSIGNED']}
    cancel_unfinished(hub)
