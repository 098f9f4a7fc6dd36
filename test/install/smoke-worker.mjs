// A worker thread of the install smoke program: increments a shared counter.
import { workerData } from 'node:worker_threads'
import { Table } from 'ironwood'

const t = Table.open(workerData.table)
for (let i = 0; i < workerData.times; i++) t.incr(workerData.key)
