// Checks a Microsoft Teams message with Microsoft's `adaptivecards` npm package (the Adaptive
// Cards SDK, not apono's code): reads the message JSON on stdin, parses its card with the SDK
// and prints one JSON line: the SDK's parse events and validation events (both empty for a valid
// card), the card's declared version and its actions as the SDK read them.
//
// Environment: APONO_WEB_DIR, web/, whose node_modules hold adaptivecards.
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(join(process.env.APONO_WEB_DIR, 'package.json'));
// The package's lib/ is ES modules without file extensions, which node does not resolve; its
// dist/ bundle is the same SDK in one file.
const AC = require('adaptivecards/dist/adaptivecards.js');

let input = '';
for await (const chunk of process.stdin) input += chunk;
const message = JSON.parse(input);
const attachment = message.attachments?.[0] ?? {};
const content = attachment.content ?? {};

const context = new AC.SerializationContext();
const card = new AC.AdaptiveCard();
card.parse(content, context);
const parseEvents = [];
for (let i = 0; i < context.eventCount; i++) {
  const e = context.getEventAt(i);
  parseEvents.push({ event: e.event, message: e.message });
}
const validation = card
  .validateProperties()
  .validationEvents.map((e) => ({ event: e.event, message: e.message }));
const actions = [];
for (let i = 0; i < card.getActionCount(); i++) {
  const a = card.getActionAt(i);
  actions.push({ type: a.getJsonTypeName(), title: a.title, url: a.url });
}
const facts = [];
for (let i = 0; i < card.getItemCount(); i++) {
  const item = card.getItemAt(i);
  if (item.getJsonTypeName() === 'FactSet')
    for (const f of item.facts) facts.push({ title: f.name, value: f.value });
}
console.log(
  JSON.stringify({
    parseEvents,
    validation,
    version: card.version ? card.version.toString() : null,
    actions,
    facts,
    items: card.getItemCount(),
  }),
);
