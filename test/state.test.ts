import { describe, expect, it } from 'vitest'
import { state } from 'ironwood'
describe('x', () => { it('y', () => { state.set('a', 1); expect(state.get('a')).toBe(1) }) })
