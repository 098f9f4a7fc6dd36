/**
 * The error contract: every error ironwood throws is an `IronwoodError` with a
 * stable `code`, or a `TypeError` / `RangeError` for a bad argument.
 * @module
 */

/** The stable codes of {@link IronwoodError}. */
export type IronwoodErrorCode =
  | 'ETIMEOUT'
  | 'ENOCONNECTION'
  | 'EREMOTE'
  | 'ENOFUNCTION'
  | 'ENOPROC'
  | 'EEXIT'

/** The base class of every error ironwood raises that is not a bad argument. */
export class IronwoodError extends Error {
  /** A stable code to branch on; the message may change between versions. */
  readonly code: IronwoodErrorCode

  constructor(code: IronwoodErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** A call, RPC or await ran past its timeout. */
export class TimeoutError extends IronwoodError {
  /** Always `'ETIMEOUT'` (a type-only narrowing; no field is emitted). */
  declare readonly code: 'ETIMEOUT'
  /** The timeout that elapsed, in milliseconds. */
  readonly timeout: number

  constructor(message: string, timeout: number, options?: ErrorOptions) {
    super('ETIMEOUT', message, options)
    this.timeout = timeout
  }
}

/** The target node is not connected, or went down during the call. */
export class ConnectionError extends IronwoodError {
  /** Always `'ENOCONNECTION'` (a type-only narrowing; no field is emitted). */
  declare readonly code: 'ENOCONNECTION'
  /** The node that could not be reached. */
  readonly node: string

  constructor(message: string, node: string, options?: ErrorOptions) {
    super('ENOCONNECTION', message, options)
    this.node = node
  }
}

/** What a remote node reported about the error its function threw. */
export interface RemoteErrorInfo {
  remoteName: string
  remoteMessage: string
  remoteStack?: string | undefined
  node: string
}

/** A function run on another node threw. */
export class RemoteError extends IronwoodError {
  /** Always `'EREMOTE'` (a type-only narrowing; no field is emitted). */
  declare readonly code: 'EREMOTE'
  readonly remoteName: string
  readonly remoteMessage: string
  readonly remoteStack: string | undefined
  readonly node: string

  constructor(info: RemoteErrorInfo, options?: ErrorOptions) {
    super('EREMOTE', `${info.remoteName} on ${info.node}: ${info.remoteMessage}`, options)
    this.remoteName = info.remoteName
    this.remoteMessage = info.remoteMessage
    this.remoteStack = info.remoteStack
    this.node = info.node
  }
}

/** No such registered function, or RPC module or function. */
export class NoFunctionError extends IronwoodError {
  /** Always `'ENOFUNCTION'` (a type-only narrowing; no field is emitted). */
  declare readonly code: 'ENOFUNCTION'
  /** The name that was looked up. */
  readonly functionName: string

  constructor(message: string, functionName: string, options?: ErrorOptions) {
    super('ENOFUNCTION', message, options)
    this.functionName = functionName
  }
}

/** The target process does not exist (dead, or an unknown pid or name). */
export class NoProcessError extends IronwoodError {
  /** Always `'ENOPROC'` (a type-only narrowing; no field is emitted). */
  declare readonly code: 'ENOPROC'
  constructor(message: string, options?: ErrorOptions) {
    super('ENOPROC', message, options)
  }
}

/** A linked process exited abnormally, or the process was killed. */
export class ExitError extends IronwoodError {
  /** Always `'EEXIT'` (a type-only narrowing; no field is emitted). */
  declare readonly code: 'EEXIT'
  /** The exit reason, as it travelled over the link (a term). */
  readonly reason: unknown

  constructor(message: string, reason: unknown, options?: ErrorOptions) {
    super('EEXIT', message, options)
    this.reason = reason
  }
}
