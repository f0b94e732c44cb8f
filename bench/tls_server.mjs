// SPDX-License-Identifier: MIT
// nodemailer's smtp-server (npm) as the peer of bench/tls.sh (part "tls" of bench/run.sh):
// STARTTLS with the given key and certificate, no AUTH required, no size limit, every
// message's stream read and thrown away (as smtp-sink --discard does).
//
//   node bench/tls_server.mjs --modules DIR --cert FILE --key FILE
//
// DIR is the directory whose node_modules holds smtp-server (tests/interop/node, where the
// interop tests install it): one install serves both. Listens on 127.0.0.1, a port the kernel
// chooses, and says so on stderr as our servers do ("smtp-server: listening on 127.0.0.1 port
// N"). SIGTERM stops it.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const opts = {};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
    const name = { '--modules': 'modules', '--cert': 'cert', '--key': 'key' }[argv[i]];
    if (!name || i + 1 >= argv.length) throw new Error('usage: tls_server.mjs --modules DIR --cert FILE --key FILE');
    opts[name] = argv[i + 1];
}
const { SMTPServer } = createRequire(path.join(path.resolve(opts.modules), 'package.json'))('smtp-server');

let messages = 0;
const server = new SMTPServer({
    name: 'smtp-server.bench.test',
    logger: false,
    disableReverseLookup: true, // no DNS lookup of 127.0.0.1 before the greeting
    key: fs.readFileSync(opts.key),
    cert: fs.readFileSync(opts.cert),
    authOptional: true,
    disabledCommands: ['AUTH'],
    socketTimeout: 600000, // the idle connections of the memory row stay, as smtp-sink keeps them
    onData(stream, session, callback) {
        stream.on('data', () => {});
        stream.on('end', () => callback(null, 'OK: queued as ' + ++messages));
    }
});
server.on('error', err => console.error('smtp-server: ' + err.message));
server.listen(0, '127.0.0.1', () => {
    console.error('smtp-server: listening on 127.0.0.1 port ' + server.server.address().port);
});
process.on('SIGTERM', () => {
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref(); // idle clients may not leave by themselves
});
