// The serial mailbox of an entity workflow: signals and updates queue items,
// the main loop handles them one at a time in arrival order, and an update
// handler waits for its own item's answer. Handling stays in the main loop
// (not in the handlers) so two messages never interleave their activities.
import { condition, uuid4 } from '@temporalio/workflow';

interface Letter<T> {
  id: string;
  item: T;
  awaited: boolean;
}

export class Mailbox<T, A> {
  private readonly letters: Letter<T>[] = [];
  private readonly answers = new Map<string, A>();

  /** Items queued, including the one being handled: a query showing it stays true until the item is done. */
  get size(): number {
    return this.letters.length;
  }

  /** Whether some queued item is one `which` picks (`awaited`: a caller waits on it, an update's). */
  has(which: (item: T, awaited: boolean) => boolean): boolean {
    return this.letters.some((l) => which(l.item, l.awaited));
  }

  /**
   * Takes (up to `most` of) the queued items nobody waits for that `which` picks, oldest first, out of
   * the queue (to hand them to a new run). Never called while `drain` runs: the item being handled stays.
   */
  take(which: (item: T) => boolean, most = Number.POSITIVE_INFINITY): T[] {
    const taken = this.letters.filter((l) => !l.awaited && which(l.item)).slice(0, most);
    for (const letter of taken) this.letters.splice(this.letters.indexOf(letter), 1);
    return taken.map((l) => l.item);
  }

  /** Queues an item nobody waits for (a signal's); its id is fresh, for idempotency keys. */
  post(item: T): void {
    this.letters.push({ id: uuid4(), item, awaited: false });
  }

  /** Queues an item and waits until the main loop has answered it (an update's). */
  async ask(item: T): Promise<A> {
    const id = uuid4();
    this.letters.push({ id, item, awaited: true });
    await condition(() => this.answers.has(id));
    const answer = this.answers.get(id)!;
    this.answers.delete(id);
    return answer;
  }

  /**
   * Handles every queued item, oldest first unless `pick` chooses another
   * (an index into the queued items, e.g. to let an urgent one jump the
   * queue), including those that arrive meanwhile, until `stop` holds. An
   * item leaves the queue once handled; an awaited one's answer is handed to its caller.
   */
  async drain(
    handle: (item: T, id: string, awaited: boolean) => Promise<A>,
    pick?: (items: readonly T[], awaited: readonly boolean[]) => number,
    stop?: () => boolean,
  ): Promise<void> {
    while (this.letters.length > 0 && !stop?.()) {
      const chosen = pick
        ? pick(
            this.letters.map((l) => l.item),
            this.letters.map((l) => l.awaited),
          )
        : 0;
      const index = chosen >= 0 && chosen < this.letters.length ? chosen : 0;
      const letter = this.letters[index]!;
      const answer = await handle(letter.item, letter.id, letter.awaited);
      if (letter.awaited) this.answers.set(letter.id, answer);
      this.letters.splice(this.letters.indexOf(letter), 1);
    }
  }
}
