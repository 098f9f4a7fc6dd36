// The gRPC side of bench/rpc.mjs: the service definition, loaded with
// @grpc/proto-loader from a temporary .proto file (the loader reads files).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'

export const PROTO = `
syntax = "proto3";
package ironwood.bench;

message AddRequest { int32 a = 1; int32 b = 2; }
message AddReply { int32 sum = 1; }
message Blob { bytes data = 1; }

service Bench {
  rpc Add (AddRequest) returns (AddReply);
  rpc Echo (Blob) returns (Blob);
}
`

/** The `Bench` service constructor (client class with `.service`). */
export function loadBenchService() {
  const dir = mkdtempSync(join(tmpdir(), 'ironwood-bench-proto-'))
  try {
    const file = join(dir, 'bench.proto')
    writeFileSync(file, PROTO)
    const def = protoLoader.loadSync(file, { keepCase: true, longs: Number, defaults: true })
    return grpc.loadPackageDefinition(def).ironwood.bench.Bench
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export { grpc }
