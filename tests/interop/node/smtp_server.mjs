// SPDX-License-Identifier: MIT
// nodemailer's smtp-server (npm) as an SMTP or LMTP server for the interop tests.
//
// Listens on 127.0.0.1, a port the kernel chooses, written to --port-file once it listens.
// Every message it takes is written to --dir as N.eml (the content as smtp-server streamed
// it, after its dot-unstuffing) and N.json (the envelope with the MAIL and RCPT parameters
// and DSN fields smtp-server parsed, the user, the transmission type). SIGTERM stops it.
// The DSN fields (RFC 3461) are as smtp-server decoded them (xtext undone): "dsn" {ret, envid}
// from MAIL (each null when not sent; absent with --hide-dsn) and "rcptDsn", per recipient,
// {notify: [...], orcpt} or null.
//
// Options:
//   --lmtp                  LMTP (lmtp: true): one reply per recipient after the data
//   --user NAME:SECRET      accept these credentials for PLAIN, LOGIN and XOAUTH2 (the
//                           secret is the password or the token); repeatable
//   --refuse-rcpt ADDR      answer RCPT TO:<ADDR> with 550 (repeatable)
//   --data-reply ADDR=CODE  LMTP: refuse ADDR after the data with CODE (4xx or 5xx)
//   --size N                advertise SIZE N and refuse larger messages
//   --hide-dsn, --hide-pipelining   do not offer DSN, PIPELINING
import fs from 'node:fs';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';

const opts = { users: {}, refuse: [], dataReply: {}, lmtp: false };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--port-file') opts.portFile = argv[++i];
    else if (a === '--dir') opts.dir = argv[++i];
    else if (a === '--lmtp') opts.lmtp = true;
    else if (a === '--user') {
        const u = argv[++i];
        const at = u.indexOf(':');
        opts.users[u.slice(0, at)] = u.slice(at + 1);
    } else if (a === '--refuse-rcpt') opts.refuse.push(argv[++i]);
    else if (a === '--data-reply') {
        const r = argv[++i];
        const at = r.indexOf('=');
        opts.dataReply[r.slice(0, at)] = Number(r.slice(at + 1));
    } else if (a === '--size') opts.size = Number(argv[++i]);
    else if (a === '--hide-dsn') opts.hideDSN = true;
    else if (a === '--hide-pipelining') opts.hidePIPELINING = true;
    else throw new Error('unknown option ' + a);
}

let count = 0;
const write = (file, data) => {
    fs.writeFileSync(file + '.tmp', data);
    fs.renameSync(file + '.tmp', file);
};

const server = new SMTPServer({
    name: 'smtp-server.test',
    lmtp: opts.lmtp,
    logger: false,
    disableReverseLookup: true, // no DNS lookup of 127.0.0.1 before the greeting
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authOptional: true,
    authMethods: ['PLAIN', 'LOGIN', 'XOAUTH2'],
    size: opts.size,
    rejectOversized: !!opts.size,
    hideDSN: !!opts.hideDSN,
    hidePIPELINING: !!opts.hidePIPELINING,
    onAuth(auth, session, callback) {
        const secret = auth.method === 'XOAUTH2' ? auth.accessToken : auth.password;
        if (Object.hasOwn(opts.users, auth.username) && opts.users[auth.username] === secret) {
            session.authMethod = auth.method;
            return callback(null, { user: auth.username });
        }
        if (auth.method === 'XOAUTH2') {
            // Gmail's way: a 334 carrying a base64 JSON error, which the client answers with
            // an empty line, and then 535.
            return callback(null, { data: { status: '401', schemes: 'bearer', scope: 'mail' } });
        }
        return callback(new Error('Invalid username or password'));
    },
    onRcptTo(address, session, callback) {
        if (opts.refuse.includes(address.address)) {
            const err = new Error('<' + address.address + '>: no such user');
            err.responseCode = 550;
            return callback(err);
        }
        return callback();
    },
    onData(stream, session, callback) {
        const chunks = [];
        stream.on('data', c => chunks.push(c));
        stream.on('end', () => {
            if (stream.sizeExceeded) return callback(null, 'refused by rejectOversized');
            count++;
            const base = path.join(opts.dir, String(count));
            fs.writeFileSync(base + '.eml', Buffer.concat(chunks));
            const env = session.envelope;
            write(
                base + '.json',
                JSON.stringify({
                    from: env.mailFrom.address,
                    mailArgs: env.mailFrom.args,
                    to: env.rcptTo.map(r => r.address),
                    rcptArgs: env.rcptTo.map(r => r.args),
                    dsn: env.dsn,
                    rcptDsn: env.rcptTo.map(r => r.dsn || null),
                    user: session.user || null,
                    method: session.authMethod || null,
                    type: session.transmissionType
                })
            );
            if (!opts.lmtp) return callback(null, 'OK: queued as ' + count);
            // RFC 2033 4.2: one reply per accepted recipient, in RCPT order.
            callback(
                null,
                env.rcptTo.map(r => {
                    const code = opts.dataReply[r.address];
                    if (!code) return '<' + r.address + '> delivered';
                    const err = new Error('<' + r.address + '> not delivered');
                    err.responseCode = code;
                    return err;
                })
            );
        });
    }
});
server.on('error', err => {
    console.error('smtp-server: ' + err.message);
});
server.listen(0, '127.0.0.1', () => {
    write(opts.portFile, String(server.server.address().port) + '\n');
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
