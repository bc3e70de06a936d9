import { AUTH_RPC, Email } from '#shared/contracts/auth';
import { createRpcClient, RpcUnavailableError } from '#shared/nats/rpc';
import { parseArgs, UsageError, type Command } from '../dispatch.ts';

/** Users belong to the auth service, so the CLI asks it (request/reply) rather than writing its bucket. */
export const usersAdd: Command = {
  path: ['users', 'add'],
  usage: 'users add EMAIL [--name NAME]',
  summary: 'create a user who can sign in with a magic link',
  async run(args, ctx) {
    const { positional, flags } = parseArgs(args, ['name']);
    if (positional.length !== 1) throw new UsageError(positional.length === 0 ? 'missing EMAIL' : `unexpected argument: ${positional[1]}`);
    const email = Email.safeParse(positional[0]);
    if (!email.success) throw new UsageError(`not a valid email address: ${positional[0]}`);
    const name = flags.name?.trim();
    if (name !== undefined && (name.length === 0 || name.length > 200)) throw new UsageError('--name must be 1–200 characters');

    const nc = await ctx.nats();
    let reply;
    try {
      reply = await createRpcClient(nc, { timeoutMs: 5_000 }).call(AUTH_RPC.addUser, { email: email.data, ...(name ? { name } : {}) });
    } catch (error) {
      if (error instanceof RpcUnavailableError) {
        ctx.err(`error: the auth service did not answer on ${AUTH_RPC.addUser.subject}; is it running? (npm run service -- auth)`);
        return 1;
      }
      throw error;
    }
    if (!reply.ok) {
      ctx.err(`error: ${reply.message}`);
      return 1;
    }
    const who = `${reply.user.email}${reply.user.name ? ` (${reply.user.name})` : ''}, id ${reply.user.id}`;
    ctx.out(reply.created ? `added user ${who}` : `user ${who} already exists; nothing changed`);
    return 0;
  },
};
