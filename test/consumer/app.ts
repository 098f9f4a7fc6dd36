// A user's program, type-checked against the built package (see README.md).
// Written the way the README and docs teach the API, with the value types a
// user declares (interfaces as well as type aliases).
import {
  ConnectionError,
  DynamicSupervisor,
  ExitError,
  GenServer,
  type From,
  IronwoodError,
  type MulticallResult,
  NoFunctionError,
  NoProcessError,
  type Pid,
  RemoteError,
  Supervisor,
  Table,
  type Term,
  TimeoutError,
  cluster,
  functions,
  isAlive,
  monitor,
  node,
  nodes,
  type PubSubMessage,
  pubsub,
  rpc,
  send,
  serve,
  type ServerWebSocket,
  setLogger,
  spawn,
  state,
  Subscription,
} from 'ironwood'

// Shared state, with the value types a user writes.
interface Session {
  user: number
  roles: string[]
  createdAt: Date
  meta: { ip: string; agent: string | null }
}
type Point = { x: number; y: number }

const sessions = Table.open<Session>('sessions')
sessions.set('abc', { user: 42, roles: ['admin'], createdAt: new Date(), meta: { ip: '127.0.0.1', agent: null } }, { ttl: 60_000 })
const s: Session | undefined = sessions.get('abc')
const roles: string[] = s?.roles ?? []
const many: Record<string, Session | undefined> = sessions.getMany(['abc', 'def'])
const points = Table.open<Point>('points')
points.setNew('origin', { x: 0, y: 0 })

state.set('user:42', { name: 'Ada', roles: ['admin'] })
const name: string | undefined = state.get<{ name: string }>('user:42')?.name
const hits: number = state.incr('metrics:requests')
const left: number | undefined = state.ttl('session:abc')
const keys: string[] = state.keys('session:')
const key = `rl:${hits}:${Math.floor(Date.now() / 1000)}`
state.setNew(key, 0, { ttl: 2000 })

// Processes.
const echo: Pid = spawn(async (self) => {
  for (;;) {
    const msg = await self.receive<{ type: 'ping'; from: Pid }>((m): m is { type: 'ping'; from: Pid } => typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'ping', { timeout: 5000 })
    if (msg === undefined) return
    send(msg.from, { type: 'pong' })
  }
})
const alive: boolean = isAlive(echo)

// A GenServer, supervised.
class Counter extends GenServer {
  n = 0
  override init(start: number) {
    this.n = start
  }
  override handleCall(request: 'get' | 'incr', _from: From): number {
    if (request === 'incr') this.n++
    return this.n
  }
  override handleCast(message: { add: number }) {
    this.n += message.add
  }
}

async function main(): Promise<void> {
  const pid = await GenServer.start(Counter, 1, { name: 'counter' })
  const n: number = await GenServer.call<number>(pid, 'incr', { timeout: 1000 })
  const byName: number = await GenServer.call<number>('counter', 'get')
  GenServer.cast(pid, { add: 2 })
  await GenServer.stop(pid)

  const sup = await Supervisor.start({
    strategy: 'one_for_one',
    maxRestarts: 3,
    maxSeconds: 5,
    children: [{ id: 'counter', start: () => GenServer.start(Counter, 0), restart: 'permanent', shutdown: 5000, type: 'worker' }],
  })
  const children = sup.whichChildren().map((c) => c.id)
  await sup.stop()
  const dyn = await DynamicSupervisor.start({ maxChildren: 10 })
  const child: Pid = await dyn.startChild({ start: () => GenServer.start(Counter, 0), restart: 'transient' })
  monitor(child, echo)
  await dyn.stop()

  // Registered functions.
  functions.register('add', (a: number, b: number) => a + b)
  const sum: number = await functions.call<number>('add', 1, 2)
  functions.cast('log_event', 'user_login', { user_id: 123 })

  // A cluster with RPC.
  setLogger((e) => console.error(e.level, e.message))
  await cluster.start({ name: 'a', host: '127.0.0.1', port: 0, cookie: 'secret', seeds: [], heartbeatInterval: 1000 })
  cluster.on('nodeup', (peer, info) => console.log('up', peer, info.reason))
  rpc.register('ml_model', { predict: async (input: number[]) => input.map((v) => v * 2) })
  const peer = nodes()[0] ?? node()
  const predicted: Term = await rpc.call(peer, 'ml_model', 'predict', [[1, 2, 3]], { timeout: 30_000 })
  const typed: number[] = await rpc.call<number[]>(peer, 'ml_model', 'predict', [[1, 2, 3]])
  rpc.cast(peer, 'logger', 'log', ['info', 'User logged in', { user_id: 123 }])
  const results: MulticallResult[] = await rpc.multicall(nodes(), 'ml_model', 'predict', [[1]], { timeout: 1000 })
  for (const r of results) {
    if (r.ok) console.log(r.node, r.value)
    else console.log(r.node, r.error.message)
  }

  // Pub/sub: a Subscription, a callback and a process member.
  interface Alert {
    type: 'alert'
    message: string
  }
  const sub = pubsub.subscribe<Alert>('notifications', { buffer: 100, overflow: 'drop_oldest' })
  const first: Alert | undefined = await sub.receive({ timeout: 0 })
  const sameClass: boolean = sub instanceof Subscription
  const cb = pubsub.subscribe<Alert>('notifications', (msg, topic) => console.log(topic, msg.message))
  pubsub.subscribe('notifications', echo)
  const count: number = pubsub.publish('notifications', { type: 'alert', message: 'restart in 5 minutes' })
  for await (const m of sub) {
    console.log(m.message)
    break
  }
  const isPubSub = (m: unknown): m is PubSubMessage<Alert> => (m as { type?: unknown }).type === 'pubsub'
  spawn(async (self) => {
    const msg = await self.receive(isPubSub)
    console.log(msg.topic, msg.message.message)
  })
  cb.unsubscribe()
  sub.unsubscribe()
  pubsub.unsubscribe('notifications', echo)
  console.log(first, sameClass, count, pubsub.members('notifications'), pubsub.topics())

  // An HTTP server with lifecycle hooks and WebSockets joined to pub/sub topics.
  const server = await serve(
    async (req: Request) => {
      if (new URL(req.url).pathname === '/count') return Response.json({ n: state.incr('hits') })
      return new Response('hello')
    },
    {
      port: 0,
      hostname: '127.0.0.1',
      hooks: {
        onRequest: (req) => (req.headers.get('x-block') ? new Response('blocked', { status: 403 }) : req),
        onResponse: (res) => {
          res.headers.set('x-powered-by', 'ironwood')
          return res
        },
        onError: (err) => new Response(String(err), { status: 500 }),
      },
      websocket: {
        upgrade: (req) => ({ user: new URL(req.url).searchParams.get('user') ?? 'anonymous' }),
        open(ws: ServerWebSocket<{ user: string }>) {
          ws.subscribe(`user:${ws.data.user}`)
        },
        message(ws, data) {
          ws.send(typeof data === 'string' ? data.toUpperCase() : data)
        },
        close(ws, code, reason) {
          console.log(ws.data.user, code, reason)
        },
      },
    },
  )
  server.publish('user:ada', { type: 'hello' })
  await server.stop()

  await cluster.stop()
  console.log(n, byName, children, sum, predicted, typed, roles, many, name, left, keys, alive)
}

// Errors: branch on the class or on the code.
main().catch((e: unknown) => {
  if (e instanceof TimeoutError) console.error(e.code, e.timeout)
  else if (e instanceof ConnectionError) console.error(e.code, e.node)
  else if (e instanceof RemoteError) console.error(e.remoteName, e.remoteMessage, e.remoteStack ?? '', e.node)
  else if (e instanceof NoFunctionError) console.error(e.functionName)
  else if (e instanceof NoProcessError) console.error(e.message)
  else if (e instanceof ExitError) console.error(e.reason)
  else if (e instanceof IronwoodError) {
    switch (e.code) {
      case 'ETIMEOUT':
      case 'ENOCONNECTION':
      case 'EREMOTE':
      case 'ENOFUNCTION':
      case 'ENOPROC':
      case 'EEXIT':
        console.error(e.code)
    }
  }
})
