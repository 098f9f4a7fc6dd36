/**
 * GenServer calls and casts to servers on other nodes, carried by RPC: the
 * caller's node asks the server's node (through the internal RPC module
 * `$gen_server`) to make the call locally and send the reply back. So a
 * remote call has RPC's guarantees: `ConnectionError` at once when the node
 * goes down mid-call, and a timeout that covers the round trip.
 * @internal
 * @module
 */
import { ConnectionError, ExitError, NoProcessError, RemoteError, TimeoutError } from './errors.js'
import { GenServer, setRemoteServers } from './genserver.js'
import { Pid } from './pid.js'
import type { NamedOnNode } from './process.js'
import { rpc } from './rpc.js'
import { type Term, assertTerm } from './terms.js'

const MODULE = '$gen_server'

rpc.register(MODULE, {
  call: (target: Pid | string, request: Term, timeout: number) => GenServer.call(target, request, { timeout }) as Promise<Term>,
  cast: (target: Pid | string, message: Term) => GenServer.cast(target, message),
})

function where(target: Pid | NamedOnNode): [node: string, local: Pid | string] {
  return target instanceof Pid ? [target.home!, target] : [target.node, target.name]
}

/** The remote side's error, as the class a local call would have thrown. */
function translate(e: unknown, what: string, timeout: number): unknown {
  if (!(e instanceof RemoteError)) return e // ConnectionError, TimeoutError of the round trip, …
  const detail = `${what} on ${e.node}: ${e.remoteMessage}`
  switch (e.remoteName) {
    case 'NoProcessError':
      return new NoProcessError(detail, { cause: e })
    case 'TimeoutError':
      return new TimeoutError(detail, timeout, { cause: e })
    case 'ExitError':
      // The reason crossed as text only (the remote error's message).
      return new ExitError(detail, e.remoteMessage, { cause: e })
    default:
      return e
  }
}

setRemoteServers({
  async call(target, request, timeout) {
    assertTerm(request, 'request')
    const [nodeName, local] = where(target)
    const what = `GenServer.call(${target instanceof Pid ? String(target) : `{ name: '${local}', node: '${nodeName}' }`})`
    // The round trip gets a little more than the server's own timeout, so
    // the remote TimeoutError (not ours) reports a server that is too slow.
    const outer = timeout === Infinity ? Infinity : timeout + 1000
    try {
      return await rpc.call(nodeName, MODULE, 'call', [local, request as Term, timeout], { timeout: outer })
    } catch (e) {
      if (e instanceof ConnectionError) throw e
      throw translate(e, what, timeout)
    }
  },
  cast(target, message) {
    assertTerm(message, 'message')
    const [nodeName, local] = where(target)
    rpc.cast(nodeName, MODULE, 'cast', [local, message as Term])
  },
})
