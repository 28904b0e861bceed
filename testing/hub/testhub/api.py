"""The hub's call table: Koji method name → implementation."""
import koji
from koji.context import context

from . import (admin, builds, catalog, cg, host, hostadmin, scheduler, sessions, tasks,
               uploads)
from .rpc import Registry
from .server import KOJI_VERSION


def getAPIVersion():
    return koji.API_VERSION


def getKojiVersion():
    return KOJI_VERSION


def echo(*args):
    return args


def getSessionInfo(details=False, user_id=None):
    if not context.session.logged_in:
        return None
    info = sessions.session_info(context.session.id)
    if details:
        info['id'] = context.session.id
        info['hostip'] = '-'
    return info


def listBuildroots(hostID=None, tagID=None, state=None, rpmID=None, archiveID=None,
                   taskID=None, buildrootID=None, repoID=None, queryOpts=None):
    """kojid asks on every pass of its main loop; image work has none."""
    return []


def getLastEvent(before=None, strict=True):
    from . import db
    r = db.row('SELECT id, time FROM events ORDER BY id DESC LIMIT 1')
    return {'id': r['id'], 'ts': r['time']} if r else None


ROOT = {
    'getAPIVersion': getAPIVersion,
    'getKojiVersion': getKojiVersion,
    'echo': echo,
    'getSessionInfo': getSessionInfo,
    'getLastEvent': getLastEvent,
    'listBuildroots': listBuildroots,
    # users and permissions
    'getLoggedInUser': catalog.getLoggedInUser,
    'getUser': catalog.get_user,
    'getUserPerms': catalog.getUserPerms,
    'getAllPerms': catalog.getAllPerms,
    'hasPerm': catalog.hasPerm,
    'getPerms': catalog.getPerms,
    # hosts, channels, tags, targets, repos
    'getHost': catalog.get_host,
    'listHosts': catalog.listHosts,
    'getChannel': catalog.getChannel,
    'listChannels': catalog.listChannels,
    'getTag': catalog.get_tag,
    'editTag2': catalog.editTag2,
    'getBuildConfig': catalog.getBuildConfig,
    'getBuildTarget': catalog.get_build_target,
    'getBuildTargets': catalog.get_build_targets,
    'deleteBuildTarget': catalog.delete_build_target,
    'getRepo': catalog.getRepo,
    # builds
    'getBuild': builds.get_build,
    'getNextRelease': builds.get_next_release,
    'listBuilds': builds.listBuilds,
    'listTagged': builds.listTagged,
    'listTags': builds.listTags,
    'listArchives': builds.listArchives,
    'getArchive': builds.getArchive,
    'getBuildLogs': builds.getBuildLogs,
    'tagBuild': builds.tagBuild,
    'untagBuild': builds.untagBuild,
    # tasks
    'getTaskInfo': tasks.getTaskInfo,
    'getTaskRequest': tasks.getTaskRequest,
    'getTaskResult': tasks.getTaskResult,
    'getTaskChildren': tasks.getTaskChildren,
    'cancelTask': tasks.cancelTask,
    'cancelTaskChildren': tasks.cancelTaskChildren,
    'freeTask': tasks.freeTask,
    'setTaskPriority': tasks.setTaskPriority,
    'listTasks': tasks.listTasks,
    'assignTask': scheduler.assignTask,
    # files
    'listTaskOutput': uploads.listTaskOutput,
    'downloadTaskOutput': uploads.downloadTaskOutput,
    'checkUpload': uploads.checkUpload,
    'uploadFile': uploads.uploadFile,
    # content generators
    'CGInitBuild': cg.cg_init_build,
    'CGImport': cg.cg_import,
    'CGRefundBuild': cg.cg_refund_build,
    # sessions
    'login': sessions.login,
    'sslLogin': sessions.sslLogin,
    'logout': sessions.logout,
    'subsession': sessions.subsession,
    'logoutChild': sessions.logoutChild,
    'exclusiveSession': sessions.exclusiveSession,
    'sharedSession': sessions.sharedSession,
}

HOST = {name: getattr(host, name) for name in (
    'getID', 'updateHost', 'getLoadData', 'getHost', 'openTask', 'closeTask', 'failTask',
    'freeTasks', 'setTaskWeight', 'setHostData', 'getTasks', 'refuseTask', 'getHostTasks',
    'taskSetWait', 'taskUnwait', 'taskWait', 'taskWaitResults', 'subtask', 'subtask2',
    'tagBuild', 'tagNotification', 'checkPolicy', 'assertPolicy')}

SCHEDULER = {name: getattr(scheduler, name) for name in (
    'doRun', 'getTaskRefusals', 'getTaskRuns', 'getHostData', 'getLogMessages')}

REPO = {'request': catalog.repo_request}


def build_registry(plugins=()):
    reg = Registry()
    reg.register_functions(ROOT)
    reg.register_functions(hostadmin.CALLS)
    reg.register_functions(HOST, 'host')
    reg.register_functions(SCHEDULER, 'scheduler')
    reg.register_functions(REPO, 'repo')
    reg.register_functions(admin.CALLS, 'testhub')
    for plugin in plugins:
        reg.register_plugin(plugin)
    return reg
