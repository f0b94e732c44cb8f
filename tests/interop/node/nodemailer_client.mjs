// SPDX-License-Identifier: MIT
// nodemailer's SMTP client (npm) against smtp-sink, for the interop tests.
//
// Usage: node nodemailer_client.mjs CONFIG.json
// CONFIG: {
//   "transport": options of nodemailer.createTransport (SMTP); "tls": {"caFile": path} is
//                read into tls.ca,
//   "expectDir": where N.eml and N.json go for the N-th message the sink must store,
//   "expectFrom": how many messages earlier runs expected there (default 0),
//   "mails": [{"mail": sendMail options; "rawFile": path read into mail.raw,
//              "stored": null (not stored) or the JSON keys the sink's line must have,
//              "expectFile": the bytes the sink must store (for raw messages)}]
// }
// A composed message (no rawFile) is built once more by nodemailer itself (the message stream
// its SMTP transport sends), with bare LF and CR made CRLF and a final CRLF added when it
// lacks one, as nodemailer's SMTP data stream does. Each sendMail outcome is one JSON line on
// standard output; nodemailer's transcript (C: and S: lines) goes to standard error.
import fs from 'node:fs';
import path from 'node:path';
import util from 'node:util';
import nodemailer from 'nodemailer';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
// nodemailer tags its traffic with meta.tnx "client" or "server" (a multi-line reply is one
// entry): each line is written "C: " or "S: " like smtp-send -v; other entries as "level text".
const log = level => (meta, ...args) => {
    const text = util.format(...args);
    const dir = { client: 'C: ', server: 'S: ' }[meta && meta.tnx];
    const lines = dir ? text.split('\n').map(l => dir + l) : [level + ' ' + text];
    process.stderr.write(lines.join('\n') + '\n');
};
const logger = {
    trace: log('trace'),
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    fatal: log('fatal')
};

// Every wait bounded (nodemailer's defaults go up to 10 minutes).
const topts = {
    connectionTimeout: 20000,
    greetingTimeout: 20000,
    socketTimeout: 20000,
    ...config.transport,
    logger,
    debug: true
};
if (topts.tls && topts.tls.caFile) {
    topts.tls = { ...topts.tls, ca: fs.readFileSync(topts.tls.caFile) };
    delete topts.tls.caFile;
}
const transport = nodemailer.createTransport(topts);
// A transport of our own that only builds the message: nodemailer's SMTP transport streams
// the same mail.message (without Bcc, which the stream transport would keep).
const builder = nodemailer.createTransport({
    name: 'capture',
    version: '1',
    send(mail, callback) {
        const chunks = [];
        const stream = mail.message.createReadStream();
        stream.on('data', c => chunks.push(c));
        stream.on('error', callback);
        stream.on('end', () => callback(null, { message: Buffer.concat(chunks) }));
    }
});

let stored = config.expectFrom || 0;
let failed = false;
for (const [i, m] of config.mails.entries()) {
    const mail = { ...m.mail };
    let expected = null;
    if (m.rawFile) {
        mail.raw = fs.readFileSync(m.rawFile);
        if (m.expectFile) expected = fs.readFileSync(m.expectFile);
    } else {
        // nodemailer's SMTP data stream turns each bare LF and bare CR into CRLF (a text part
        // may hold bare LFs) and ends the data with CRLF: the receiver stores that.
        const built = (await builder.sendMail(mail)).message.toString('latin1');
        expected = Buffer.from(built.replace(/\r\n|\r|\n/g, '\r\n'), 'latin1');
        if (!/[\r\n]$/.test(built)) expected = Buffer.concat([expected, Buffer.from('\r\n')]);
    }
    const out = { i };
    try {
        const info = await transport.sendMail(mail);
        Object.assign(out, { accepted: info.accepted, rejected: info.rejected, response: info.response });
    } catch (err) {
        Object.assign(out, { error: err.code || String(err), responseCode: err.responseCode, response: err.response });
    }
    console.log(JSON.stringify(out));
    if (m.stored) {
        if (!expected) {
            console.error('mail ' + i + ': no expected bytes');
            failed = true;
            continue;
        }
        stored++;
        fs.writeFileSync(path.join(config.expectDir, stored + '.eml'), expected);
        fs.writeFileSync(path.join(config.expectDir, stored + '.json'), JSON.stringify(m.stored));
    }
}
transport.close();
process.exitCode = failed ? 1 : 0;
