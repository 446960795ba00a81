import type { EventStore, EventId, StreamId } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

interface StoredEvent {
  eventId: EventId;
  streamId: StreamId;
  message: JSONRPCMessage;
}

/**
 * A small in-memory EventStore so the gateway supports resumption with `Last-Event-ID`
 * (MCP Streamable HTTP, "Resumability and Redelivery"). Event ids are `<streamId>|<seq>`;
 * each stream keeps its events in order and at most `maxEventsPerStream` of them.
 */
export class LabEventStore implements EventStore {
  readonly #byId = new Map<EventId, StoredEvent>();
  readonly #byStream = new Map<StreamId, StoredEvent[]>();
  #seq = 0;

  constructor(private readonly maxEventsPerStream = 500) {}

  async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    this.#seq += 1;
    const event: StoredEvent = { eventId: `${streamId}|${this.#seq}`, streamId, message };
    this.#byId.set(event.eventId, event);
    const list = this.#byStream.get(streamId) ?? [];
    list.push(event);
    while (list.length > this.maxEventsPerStream) {
      const dropped = list.shift();
      if (dropped) this.#byId.delete(dropped.eventId);
    }
    this.#byStream.set(streamId, list);
    return event.eventId;
  }

  async getStreamIdForEventId(eventId: EventId): Promise<StreamId | undefined> {
    return this.#byId.get(eventId)?.streamId;
  }

  async replayEventsAfter(
    lastEventId: EventId,
    { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> },
  ): Promise<StreamId> {
    const last = this.#byId.get(lastEventId);
    if (!last) return '';
    const list = this.#byStream.get(last.streamId) ?? [];
    const start = list.findIndex((e) => e.eventId === lastEventId);
    for (const event of list.slice(start + 1)) {
      await send(event.eventId, event.message);
    }
    return last.streamId;
  }
}
