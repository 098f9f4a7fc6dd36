// Pins the types of serve(): ws.data follows websocket.upgrade, hooks and handlers are typed.
import { type Server, type ServerWebSocket, serve } from 'ironwood'
import { describe, expectTypeOf, it } from 'vitest'

describe('serve', () => {
  it('ws.data takes the type websocket.upgrade returns', () => {
    void serve(() => new Response('x'), {
      websocket: {
        upgrade: (req) => ({ user: req.headers.get('x-user') ?? 'anonymous', since: 0 }),
        open: (ws) => {
          expectTypeOf(ws).toEqualTypeOf<ServerWebSocket<{ user: string; since: number }>>()
          expectTypeOf(ws.data).toEqualTypeOf<{ user: string; since: number }>()
        },
        message: (ws, data) => {
          expectTypeOf(data).toEqualTypeOf<string | Uint8Array>()
          expectTypeOf(ws.send).returns.toEqualTypeOf<boolean>()
        },
        close: (_ws, code, reason) => {
          expectTypeOf(code).toEqualTypeOf<number>()
          expectTypeOf(reason).toEqualTypeOf<string>()
        },
      },
    })
    // Without upgrade, ws.data is undefined.
    void serve(() => new Response('x'), { websocket: { open: (ws) => ws.send(`${expectTypeOf(ws.data).toEqualTypeOf<undefined>()}`) } })
  })

  it('hooks, handler and server', () => {
    expectTypeOf(serve(async () => new Response('x'))).toEqualTypeOf<Promise<Server>>()
    void serve(() => new Response('x'), {
      hooks: {
        onRequest: [
          (req) => {
            expectTypeOf(req).toEqualTypeOf<Request>()
          },
          async (req) => new Request(req),
        ],
        onResponse: (res, req) => {
          expectTypeOf(res).toEqualTypeOf<Response>()
          expectTypeOf(req).toEqualTypeOf<Request>()
        },
        onError: (err) => (err instanceof Error ? new Response(null, { status: 500 }) : undefined),
      },
    })
    // @ts-expect-error the handler returns a Response
    void serve(() => 'text')
    // @ts-expect-error an onRequest hook returns a Request, a Response or nothing
    void serve(() => new Response('x'), { hooks: { onRequest: () => 42 } })
    // @ts-expect-error the slow-client policy is 'close' or 'drop'
    void serve(() => new Response('x'), { websocket: { slowClient: 'block' } })
  })
})
