import t from 'tap'
import { Unpackr } from 'msgpackr'
import { keysFor } from '../../lua/keys.js'
import {
  loadScriptSources, markSeenCall, rateConversationCall, sameSlot, setConversationStatusCall, updateConversationCall, wakeSnoozedCall,
  type ScriptCall,
} from '../../lua/scripts.js'

const unpack = (call: ScriptCall) => new Unpackr({ useRecords: false, mapsAsObjects: true }).unpack(call.args[0] as Buffer) as Record<string, unknown>

t.test('each builder: one slot, KEYS count as the file name says, nulls left out', async (t) => {
  const counts = new Map(loadScriptSources().map((s) => [s.name, s.numberOfKeys]))
  const k = keysFor(3)
  const calls: ScriptCall[] = [
    setConversationStatusCall(k, { conversationId: 'cv_1', accountId: 'a_1', inboxes: null, agentId: 'ag_1', agentName: 'Ada', status: 'snoozed', snoozedUntil: 0, now: 1, uid: 'u', hotTail: 10 }),
    wakeSnoozedCall(k, { conversationId: 'cv_1', inboxId: 'in_1', now: 1, uid: 'u', hotTail: 10 }),
    markSeenCall(k, { conversationId: 'cv_1', accountId: 'a_1', role: 'contact', viewerId: 'ct_1', inboxId: 'in_1', inboxes: null, now: 1, uid: 'u', throttleMs: 1, cap: 1, slackMs: 1 }),
    rateConversationCall(k, { conversationId: 'cv_1', accountId: 'a_1', contactId: 'ct_1', inboxId: 'in_1', score: 5, comment: null, now: 1, uid: 'u' }),
    updateConversationCall(k, { conversationId: 'cv_1', accountId: 'a_1', inboxes: ['in_1'], now: 1, uid: 'u', priority: null, region: 'EU' }),
  ]
  for (const call of calls) {
    t.equal(call.keys.length, counts.get(call.name), `${call.name}: KEYS count`)
    t.ok(sameSlot(call.keys), `${call.name}: one slot`)
    t.equal(call.args.length, 1, `${call.name}: one msgpack ARGV`)
  }
  t.match(unpack(calls[0] as ScriptCall), { status: 'snoozed', snoozedUntil: 0, snoozedUntilIso: '1970-01-01T00:00:00.000Z' })
  t.notOk('inboxes' in unpack(calls[0] as ScriptCall), 'null inboxes (all) are left out')
  t.equal(calls[2]?.keys[3], k.seenThrottle('cv_1', 'contact:ct_1'), 'the throttle key is per viewer')
  t.notOk('comment' in unpack(calls[3] as ScriptCall))
  const update = unpack(calls[4] as ScriptCall)
  t.same([update['priority'], update['region'], 'branch' in update, 'customAttributes' in update], ['', 'EU', false, false], 'null clears, absent keeps')
})
