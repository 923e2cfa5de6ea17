// Stream id helpers live in lua/stream-id.ts (the engine's fan-out orders notices with them too).
export * from '../lua/stream-id.js';
