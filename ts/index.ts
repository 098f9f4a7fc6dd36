/**
 * ironwood: the Erlang/OTP toolkit for Node.js and Bun, with a Rust core.
 * @module
 */
export {
  ConnectionError,
  ExitError,
  IronwoodError,
  type IronwoodErrorCode,
  NoFunctionError,
  NoProcessError,
  RemoteError,
  type RemoteErrorInfo,
  TimeoutError,
} from './errors.js'
export { type SetOptions, Table, state } from './state.js'
export { type AsTerm, type Term, type TermValue, assertTerm } from './terms.js'
export { node } from './node.js'
export { Pid } from './pid.js'
export { Ref, makeRef } from './ref.js'
export { type LogEvent, type Logger, setLogger } from './logger.js'
export {
  type DownMessage,
  type ExitMessage,
  type ExitReason,
  type MailboxOverflow,
  type NamedOnNode,
  type ProcessContext,
  type ProcessFunction,
  type ProcessKind,
  type ReceiveOptions,
  type SpawnOptions,
  demonitor,
  exit,
  isAlive,
  link,
  monitor,
  register,
  send,
  spawn,
  spawnLink,
  spawnMonitor,
  unlink,
  unregister,
  whereis,
} from './process.js'
export { type CallOptions, type From, GenServer, type GenServerStartOptions, type InitArg, type StopOptions } from './genserver.js'
export {
  type ChildSpec,
  type ChildType,
  type DynamicChildSpec,
  type IntensityOptions,
  type RestartType,
  type Shutdown,
  type StartResult,
  type Strategy,
} from './child-spec.js'
export { Supervisor, type SupervisorOptions } from './supervisor.js'
export { type BatchStartResult, DynamicSupervisor, type DynamicSupervisorOptions } from './dynamic-supervisor.js'
export { type ChildCounts, type ChildInfo, type ChildStatus } from './supervisor-server.js'
export { type RegisteredFunction, functions } from './functions.js'
export { type ProcessInfo, type SupervisedChild, type SupervisorTree, processInfo, processes, supervisionTree } from './introspection.js'
export {
  type ClusterFaults,
  type ClusterOptions,
  type ClusterTlsOptions,
  type NodeEvent,
  type NodeEventInfo,
  type NodeEventListener,
  cluster,
  nodes,
} from './cluster.js'
export { type MulticallResult, type RpcModule, type RpcOptions, rpc } from './rpc.js'
export { type CallbackSubscription, type PubSubCallback, type PubSubMessage, pubsub } from './pubsub.js'
export {
  DEFAULT_BUFFER,
  type OverflowPolicy,
  type SubscribeOptions,
  Subscription,
  type SubscriptionReceiveOptions,
} from './subscription.js'
export { HubRing } from './hub-ring.js'
export {
  type ChildData,
  Hub,
  type HubChild,
  type HubChildError,
  type HubChildNodes,
  type HubChildSpec,
  type HubConfig,
  HubError,
  type HubErrorCode,
  type HubHookHandler,
  type HubHookName,
  type HubHookOptions,
  type HubHookPayloads,
  type HubInitiated,
  type HubRegistryEntry,
  type HubRestart,
  type HubStartOptions,
  type HubStartResult,
  type HubStopOptions,
  type HubStopResult,
  type HubHotSwap,
  type HubReplication,
  type HubRedundancySignal,
  type HubReplicaRole,
} from './hub.js'
// The distribution layer for processes: makes send/link/monitor/exit reach other nodes.
import './remote.js'
// GenServer calls and casts to other nodes (over RPC).
import './remote-genserver.js'
export { type Server, type StopServerOptions, serve } from './serve.js'
export {
  type Handler,
  type Hooks,
  type OnErrorHook,
  type OnRequestHook,
  type OnResponseHook,
  type ServeOptions,
  type SlowClientPolicy,
  type WebSocketData,
  type WebSocketHandlers,
} from './serve-options.js'
export { ServerWebSocket } from './websocket.js'
export {
  type HistogramBucket,
  type MetricsSnapshot,
  type PeerMetrics,
  type SnapshotListener,
  type SnapshotListenerOptions,
  metrics,
} from './metrics.js'
// Every node answers the dashboard's RPC module, so a dashboard on any node sees the whole cluster.
import './dashboard-collect.js'
export { type Dashboard, type DashboardOptions, dashboard } from './dashboard.js'
