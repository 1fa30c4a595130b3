# community.docker.nsenter with pipelining, for the lab's nspawn nodes and the role's tests.
#
# Why: community.docker.nsenter (1.9.0+) declares has_pipelining = False, so every module run is
# five nsenter + shell starts (mkdir a temp dir, tee the AnsiballZ file in, chmod, run, rm -rf).
# On the lab's two loaded cores that was most of the role's 100-150 s. Pipelining sends the module
# to python's stdin in one nsenter, as Ansible's local and ssh connections do. The upstream
# plugin only avoids it for become with a password prompt on a pty (its exec_command comment);
# this plugin refuses become with a prompt instead, and is otherwise the upstream plugin.
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = '''
name: kip_nsenter
short_description: community.docker.nsenter with pipelining (a module runs in one nsenter)
description:
    - Runs tasks inside the namespaces of a PID with nsenter, like community.docker.nsenter, and
      supports pipelining (ansible_pipelining / ANSIBLE_PIPELINING), which the upstream plugin does not.
    - Become with a password prompt is refused; the remote user is always root.
author: kip
extends_documentation_fragment:
    - connection_pipelining
options:
    nsenter_pid:
        description:
            - PID whose namespaces the commands enter (an nspawn node's init).
        type: int
        default: 1
        vars:
            - name: ansible_nsenter_pid
        env:
            - name: ANSIBLE_NSENTER_PID
        ini:
            - section: nsenter_connection
              key: nsenter_pid
'''

from ansible.errors import AnsibleError
from ansible_collections.community.docker.plugins.connection.nsenter import Connection as NsenterConnection


class Connection(NsenterConnection):
    transport = 'kip_nsenter'
    has_pipelining = True

    def exec_command(self, cmd, in_data=None, sudoable=True):
        if sudoable and self.become and self.become.expect_prompt():
            raise AnsibleError('kip_nsenter: become with a password prompt is not supported (the nsenter connection is root already: set ansible_become=false)')
        return super(Connection, self).exec_command(cmd, in_data=in_data, sudoable=sudoable)
