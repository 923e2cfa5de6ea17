import t from 'tap'
import { keysFor, partitionOf, tag } from '../../lua/keys.js'
import { appendMessageCall, createConversationCall, loadScriptSources, sameSlot } from '../../lua/scripts.js'

const k = keysFor(partitionOf('a_AAAAAAAAAAAAAAAAAAAAAA', 16))
const counts = new Map(loadScriptSources().map((s) => [s.name, s.numberOfKeys]))

t.test('every script file declares its key count and has a header', async (t) => {
  for (const s of loadScriptSources()) {
    t.ok(s.numberOfKeys > 0, s.name)
    t.match(s.lua, /KEYS\[1\]/, `${s.name} documents its keys`)
    t.match(s.lua, /Reply:/, `${s.name} documents its reply`)
  }
})

t.test('builders: KEYS count equals N and one slot per call', async (t) => {
  const calls = [
    createConversationCall(k, { id: 'cv_x', accountId: 'a_x', inboxId: 'in_x', contactId: 'ct_x', now: 1, uid: 'u', additionalAttributes: '{}' }),
    appendMessageCall(k, {
      conversationId: 'cv_x', inboxId: 'in_x', accountId: 'a_x', senderType: 'contact', senderId: 'ct_x', inboxes: null,
      content: 'hi', contentType: 'text', contentAttributes: '{}', private: false, echoId: 'e', sourceId: 's', now: 1, uid: 'u',
      reopenUid: 'r', floodLimit: 1, hotTail: 10, dedupeTtlMs: 1, sourceTtlMs: 1,
    }),
  ]
  for (const call of calls) {
    t.equal(call.keys.length, counts.get(call.name), `${call.name} key count`)
    t.ok(sameSlot(call.keys), `${call.name} keys share one hash tag`)
    t.ok(call.keys.every((key) => key.startsWith(`${tag(k.partition)}:`)))
  }
  t.notOk(sameSlot(['{p1}:a', '{p2}:b']))
  t.notOk(sameSlot(['nohashtag']))
})

t.test('appendMessage declares no key that usually does not exist (TRYAGAIN during a slot migration)', async (t) => {
  const base = {
    conversationId: 'cv_x', inboxId: 'in_x', accountId: 'a_x', inboxes: null, content: 'hi', contentType: 'text',
    contentAttributes: '{}', private: false, now: 1, uid: 'u', reopenUid: 'r', floodLimit: 1, hotTail: 10, dedupeTtlMs: 1, sourceTtlMs: 1,
  }
  const agent = appendMessageCall(k, { ...base, senderType: 'agent', senderId: 'ag_x', echoId: null, sourceId: null })
  t.same(new Set(agent.keys), new Set([k.conversation('cv_x'), k.conversationLog('cv_x'), k.events, k.notices, k.inboxStatusList('in_x', 'open')]),
    'agent, no echoId/sourceId: conversation, log, events, notice log and the status list it is (likely) in')
  const contact = appendMessageCall(k, { ...base, senderType: 'contact', senderId: 'ct_x', echoId: 'e', sourceId: 's' })
  t.ok(contact.keys.includes(k.conversationFlood('cv_x')) && contact.keys.includes(k.conversationEchoes('cv_x')) &&
    contact.keys.includes(k.sourceDedupe('in_x', 's')), 'the optional keys are declared when used')
  for (const s of loadScriptSources()) t.notMatch(s.lua, /KEYS\[\d+\]\s+channel/, `${s.name}: no pub/sub channel among the declared keys`)
})
