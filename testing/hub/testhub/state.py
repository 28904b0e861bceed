"""Process-wide hub settings: where files live and the hub.conf-like options."""
import os

# hub.conf defaults that matter here (kojixmlrpc.config_map / scheduler.py)
DEFAULT_OPTS = {
    'RunInterval': 0,          # scheduler: seconds between runs (real default 60)
    'ReadyTimeout': 180,       # a host that has not checked in this long is not ready
    'AssignTimeout': 300,      # ASSIGNED but not opened → freed, implicit refusal
    'SoftRefusalTimeout': 900,
    'HostTimeout': 900,        # OPEN tasks of a silent host are freed
    'CapacityOvercommit': 5,
    'MaxJobs': 15,
    'DNUsernameComponent': 'CN',
    # Kerberos (kojixmlrpc.config_map): the host principal of a new host, the realms
    # logins may come from, who may log in others (proxyuser), session lifetime
    'HostPrincipalFormat': None,
    'AllowedKrbRealms': '*',
    'ProxyPrincipals': '',
    'SessionRenewalTimeout': 1440,  # minutes; 0 = sessions never expire
}


class Hub:
    def __init__(self, topdir, opts=None):
        self.topdir = os.path.abspath(topdir)
        self.opts = dict(DEFAULT_OPTS)
        self.opts.update(opts or {})
        os.makedirs(self.workdir, exist_ok=True)
        os.makedirs(os.path.join(self.topdir, 'packages'), exist_ok=True)

    @property
    def workdir(self):
        """koji.pathinfo.work(): uploads land in <topdir>/work/<filepath>/<filename>."""
        return os.path.join(self.topdir, 'work')


_hub = None


def init(topdir, opts=None):
    global _hub
    _hub = Hub(topdir, opts)
    return _hub


def hub():
    return _hub
