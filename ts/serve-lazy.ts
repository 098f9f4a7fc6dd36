/**
 * Lazy stand-ins for undici's `Request`, `Response` and `Headers` on Node
 * (ts/serve-node-request.ts, ts/serve-node-response.ts): on Node 20 making
 * one real `Request` or `Response` costs more CPU than node:http spends on a
 * whole request, so serve hands out objects that answer the common questions
 * (method, url, a header, a string body) themselves and build the real
 * object only when something else is asked of them. What they do not
 * implement themselves is forwarded here to the real object, built on first
 * use; undici's internal symbols are forwarded too, so undici's own code
 * (`new Request(req)`, `fetch(req)`) accepts a stand-in as the real thing.
 * The idea is srvx's (`lazyInherit` in srvx/src/_url.ts).
 * @module
 */

/**
 * @internal Makes every method and accessor of `source` (a native prototype)
 * that `target` does not define itself forward to `this[key]`, the real
 * object. Symbols are included (undici keeps its state under symbols).
 */
export function forwardTo(target: object, source: object, key: string): void {
  for (const name of Reflect.ownKeys(source)) {
    if (name === 'constructor' || Object.hasOwn(target, name)) continue
    const desc = Object.getOwnPropertyDescriptor(source, name)!
    if (desc.get !== undefined || desc.set !== undefined) {
      const forwarded: PropertyDescriptor = { configurable: true, enumerable: desc.enumerable ?? false }
      if (desc.get !== undefined) {
        forwarded.get = function (this: Record<string, Record<PropertyKey, unknown>>) {
          return this[key]![name]
        }
      }
      if (desc.set !== undefined) {
        forwarded.set = function (this: Record<string, Record<PropertyKey, unknown>>, value: unknown) {
          this[key]![name] = value
        }
      }
      Object.defineProperty(target, name, forwarded)
    } else if (typeof desc.value === 'function') {
      Object.defineProperty(target, name, {
        configurable: true,
        writable: true,
        enumerable: desc.enumerable ?? false,
        value: function (this: Record<string, Record<PropertyKey, (...a: unknown[]) => unknown>>, ...args: unknown[]) {
          return this[key]![name]!(...args)
        },
      })
    }
  }
}

/**
 * @internal Forwards the symbol-keyed own properties of a native instance
 * (undici's `Symbol(state)`, `Symbol(headers)`, …) from `target` to
 * `this[key]`, so undici code that reaches into a stand-in finds the real state.
 */
export function forwardInternals(target: object, sample: object, key: string): void {
  for (const sym of Object.getOwnPropertySymbols(sample)) {
    if (Object.hasOwn(target, sym)) continue
    Object.defineProperty(target, sym, {
      configurable: true,
      get(this: Record<string, Record<symbol, unknown>>) {
        return this[key]![sym]
      },
      set(this: Record<string, Record<symbol, unknown>>, value: unknown) {
        this[key]![sym] = value
      },
    })
  }
}

/**
 * @internal The class at the bottom of a chain of subclasses: the runtime's
 * own `Request` / `Response` even when something (an adapter, or serve
 * itself) has put a subclass in its place on `globalThis`.
 */
export function nativeClass<T extends abstract new (...args: never[]) => unknown>(current: T): T {
  let c: unknown = current
  for (let p = Object.getPrototypeOf(c); typeof p === 'function' && p.prototype !== undefined; p = Object.getPrototypeOf(p)) c = p
  return c as T
}
