// The keys each builder declares from a hint (pure, no Redis): every key a script touches must be
// among its KEYS (Redis Cluster checks only those before running it while a slot migrates), and a
// key that may not exist is declared only when the script will touch it (it makes the call wait).
import tap from 'tap'
import { keysFor } from '../../lua/keys.js'
import {
  assignConversationCall, autoAssignCall, autoResolveCall, createConversationCall, evictContactCall, evictConversationCall,
  loadScriptSources, markSeenCall, movedKeys, presenceBeatCall, presenceSweepCall, sameSlot, setConversationStatusCall, wakeSnoozedCall,
  type DeclaredHint, type ScriptCall,
} from '../../lua/scripts.js'

const k = keysFor(5)
const conv = k.conversation('cv_1')
const sources = new Map(loadScriptSources().map((s) => [s.name, s]))
/** What is wrong with a call's keys: its count against the file name, more than one slot. */
const problems = (call: ScriptCall): string[] => {
  const s = sources.get(call.name)
  const counted = s !== undefined && (s.variableKeys ? call.keys.length >= s.numberOfKeys : call.keys.length === s.numberOfKeys)
  return [...(counted ? [] : [`${call.name}: KEYS count`]), ...(sameSlot(call.keys) ? [] : [`${call.name}: more than one slot`])]
}
const open: DeclaredHint = { inboxId: 'in_1', status: 'open', assigneeId: 'ag_1', contactId: 'ct_1' }

tap.test('movedKeys: the status list, the new one and the load; the conversation key where none', async (t) => {
  t.same(movedKeys(k, 'cv_1', open, 'resolved'), [k.inboxStatusList('in_1', 'open'), k.inboxStatusList('in_1', 'resolved'), k.agentOpen('ag_1')])
  t.same(movedKeys(k, 'cv_1', { ...open, assigneeId: '' }, null), [k.inboxStatusList('in_1', 'open'), conv, conv])
  t.same(movedKeys(k, 'cv_1', null, 'open'), [conv, conv, conv], 'no hint: nothing guessed (the script answers NEEDS_KEYS)')
})

tap.test('setConversationStatus: the snooze schedule only around a snooze; the pointer when leaving resolved', async (t) => {
  const input = { conversationId: 'cv_1', accountId: 'a_1', inboxes: null, agentId: 'ag_1', agentName: 'Ada', snoozedUntil: null, now: 1, uid: 'u', hotTail: 10 }
  const resolve = setConversationStatusCall(k, { ...input, status: 'resolved' }, open)
  t.same(problems(resolve), [], 'resolve: KEYS count and slot')
  t.notOk(resolve.keys.includes(k.snoozed), 'open -> resolved: no schedule')
  t.ok(resolve.keys.includes(k.inboxStatusList('in_1', 'resolved')) && resolve.keys.includes(k.agentOpen('ag_1')))
  t.ok(setConversationStatusCall(k, { ...input, status: 'snoozed', snoozedUntil: 5 }, open).keys.includes(k.snoozed))
  const reopen = setConversationStatusCall(k, { ...input, status: 'open' }, { ...open, status: 'resolved', pointed: 'cv_2' })
  t.same(problems(reopen), [], 'reopen: KEYS count and slot')
  t.ok(reopen.keys.includes(k.contactConversation('ct_1', 'in_1')), "the contact's pointer")
  t.ok(reopen.keys.includes(k.conversation('cv_2')), 'the conversation it names')
  t.notOk(resolve.keys.includes(k.contactConversation('ct_1', 'in_1')), 'not when it stays out of resolved')
})

tap.test('assignConversation: the loads, the target, the queue only for an open unassigned one', async (t) => {
  const input = { conversationId: 'cv_1', inboxId: 'in_1', accountId: 'a_1', inboxes: null, actorId: 'ag_9', actorName: 'Bo', assigneeId: 'ag_2',
    expectedAssigneeId: null, now: 1, uid: 'u', hotTail: 10 }
  const reassign = assignConversationCall(k, input, open)
  t.same(problems(reassign), [], 'reassign: KEYS count and slot')
  t.ok([k.agent('ag_2'), k.agentOpen('ag_2'), k.agentOpen('ag_1')].every((key) => reassign.keys.includes(key)))
  t.notOk(reassign.keys.includes(k.inboxQueue('in_1')), 'assigned already: not queued')
  t.ok(assignConversationCall(k, input, { ...open, assigneeId: '' }).keys.includes(k.inboxQueue('in_1')), 'unassigned: may be queued')
  const self = assignConversationCall(k, { ...input, assigneeId: 'ag_9' }, { ...open, status: 'resolved' })
  t.notOk(self.keys.includes(k.agent('ag_9')) || self.keys.includes(k.agentOpen('ag_9')), 'self-assigning a resolved one: no name, no load')
})

tap.test('autoAssign: each member hash and load; createConversation: the new hash unless the pointer names a current one', async (t) => {
  const auto = autoAssignCall(k, { conversationId: 'cv_1', inboxId: 'in_1', accountId: 'a_1', now: 1, graceMs: 1, uid: 'u', hotTail: 1 }, { agents: ['ag_1', 'ag_2'] })
  t.same(problems(auto), [], 'auto: KEYS count and slot')
  t.same(auto.keys.slice(10), [k.agent('ag_1'), k.agentOpen('ag_1'), k.agent('ag_2'), k.agentOpen('ag_2')])
  const input = { id: 'cv_new', accountId: 'a_1', inboxId: 'in_1', contactId: 'ct_1', now: 1, uid: 'u', additionalAttributes: '{}' }
  const first = createConversationCall(k, input)
  t.same(problems(first), [], 'first: KEYS count and slot')
  t.ok(first.keys.includes(k.conversation('cv_new')) && first.keys.includes(k.inboxStatusList('in_1', 'open')))
  const back = createConversationCall(k, input, { pointed: 'cv_1', status: 'open' })
  t.ok(back.keys.includes(conv), 'the current conversation')
  t.notOk(back.keys.includes(k.conversation('cv_new')), 'a returning contact does not wait on a hash that does not exist')
  t.ok(createConversationCall(k, input, { pointed: 'cv_1', status: 'resolved' }).keys.includes(k.conversation('cv_new')))
})

tap.test('markSeen, sweeps and eviction declare what they derive', async (t) => {
  const seen = { conversationId: 'cv_1', accountId: 'a_1', role: 'agent' as const, viewerId: 'ag_1', inboxId: null, inboxes: null, now: 1, uid: 'u', throttleMs: 1, cap: 1, slackMs: 1 }
  t.notOk(markSeenCall(k, seen).keys.includes(k.conversationEdits('cv_1')))
  t.ok(markSeenCall(k, seen, { edits: true }).keys.includes(k.conversationEdits('cv_1')), 'edits once it has some')
  const wake = wakeSnoozedCall(k, { conversationId: 'cv_1', inboxId: 'in_1', now: 1, uid: 'u', hotTail: 1 })
  t.same(problems(wake), [], 'wake: KEYS count and slot')
  t.same(wake.keys.slice(5), [k.inboxStatusList('in_1', 'snoozed'), k.inboxStatusList('in_1', 'open'), conv])
  const resolve = autoResolveCall(k, { conversationId: 'cv_1', inboxId: 'in_1', after: 1, now: 1, uid: 'u', hotTail: 1 }, open)
  t.same(problems(resolve), [], 'resolve: KEYS count and slot')
  t.same(resolve.keys.slice(4), [k.inboxStatusList('in_1', 'open'), k.inboxStatusList('in_1', 'open'), k.inboxStatusList('in_1', 'resolved'), k.agentOpen('ag_1')])
  const sweep = presenceSweepCall(k, { accountId: 'a_1', agentId: 'ag_1', now: 1, graceMs: 1 })
  t.same(problems(sweep), [], 'sweep: KEYS count and slot')
  t.ok(sweep.keys.includes(k.availability('a_1')) && sweep.keys.includes(k.agentConnections('a_1')) && sweep.keys.includes(k.presence('a_1')))
  const beat = presenceBeatCall(k, { accountId: 'a_1', agentId: 'ag_1', connIds: ['c'], now: 1, graceMs: 1 })
  t.same(problems(beat), [], 'beat: KEYS count and slot')
  t.ok(beat.keys.includes(k.availability('a_1')))
  const evict = evictConversationCall(k, { conversationId: 'cv_1', cutoff: 1, expected: { inboxId: 'in_1', contactId: 'ct_1' }, now: 1, uid: 'u' })
  t.same(problems(evict), [], 'evict: KEYS count and slot')
  t.ok([k.inboxStatusList('in_1', 'resolved'), k.contactConversation('ct_1', 'in_1'), k.conversationEdits('cv_1')].every((key) => evict.keys.includes(key)))
  const contact = evictContactCall(k, { contactId: 'ct_1', accountId: 'a_1', cutoff: 1, expected: {}, now: 1, uid: 'u' }, { accountInboxes: ['in_1', 'in_2'] })
  t.same(problems(contact), [], 'contact: KEYS count and slot')
  t.same(contact.keys.slice(5), [k.contactConversation('ct_1', 'in_1'), k.contactConversation('ct_1', 'in_2')])
})

tap.test('no script derives a key it does not declare: none builds one from the hash tag', async (t) => {
  for (const s of loadScriptSources()) {
    const body = s.lua.slice(s.lua.lastIndexOf('-- Reply:')) // the script itself, after the shared prelude and its header
    const built = [...body.matchAll(/tag \.\. '[^']*'/g)].map((m) => m[0])
    t.ok(/all_declared|^$/.test(built.length === 0 ? '' : body), `${s.name}: keys it builds (${built.join(', ') || 'none'}) are checked by all_declared`)
  }
})
