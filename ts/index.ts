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
export { type Term, assertTerm } from './terms.js'
