'use strict';
// sendfile(socketFd, fileFd, offset, length, callback(err, sent)): the bytes [offset, offset+length)
// of the file go to the socket on the thread pool. Both descriptors are duplicated before the
// call returns, so closing either one meanwhile cannot redirect the bytes elsewhere. err.code
// EAGAIN: the socket had no room for 50 ms; `sent` bytes went, call again for the rest.
// writeFile(path, buffers, callback(err)): create or truncate, write, fdatasync, close, in one job.
// renameAndSyncDir(from, to, dirFd, callback(err)): rename, then fsync the directory, in one job.
// alignedBuffer(size): a Buffer whose memory starts on a 4096-byte boundary, for O_DIRECT writes.
// hashCreate(algorithm), hashUpdate(digest, buffer), hashDigest(digest): a SHA-256/512 digest (OpenSSL's).
// hashWrite(digest, fd, buffer, hashFrom, position, callback(err)): on the thread pool, hashes
// buffer[hashFrom..] after every earlier job on the digest, then writes the buffer at position (fd -1: hash only).
// recvInto(socketFd, buffer, offset, length, callback(err, n)): on the thread pool, reads up to
// length bytes of the socket into buffer[offset..] (err.code EAGAIN: nothing arrived for 5 ms).
// chunkedTake(state, src, dst, dstOffset, dstLength) -> [used, written, done] and
// recvChunkedInto(socketFd, state, buffer, offset, length, callback(err, n, done)): a body with
// Transfer-Encoding: chunked decoded from a buffer (synchronously) or from the socket (on the thread pool).
module.exports = require('./build/Release/berth_sendfile.node');
