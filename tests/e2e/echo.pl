#!/usr/bin/perl
# echo.pl PROTO HOST PORT: send one message over TCP or UDP, exit 0 if the
# same bytes come back within 5 s.  Perl's core Socket only, so it runs on a
# minimal Debian (bash's /dev/udp writes a datagram per byte).
use strict;
use warnings;
use Socket qw(:addrinfo SOCK_STREAM SOCK_DGRAM);

my ($proto, $host, $port) = @ARGV;
die "usage: echo.pl tcp|udp HOST PORT\n" unless defined $port;
my ($err, @ai) = getaddrinfo($host, $port, {
	socktype => $proto eq 'udp' ? SOCK_DGRAM : SOCK_STREAM,
	flags => AI_NUMERICHOST | AI_NUMERICSERV });
die "$host: $err\n" if $err;
socket(my $s, $ai[0]{family}, $ai[0]{socktype}, $ai[0]{protocol}) or die "socket: $!\n";
connect($s, $ai[0]{addr}) or die "connect $proto $host $port: $!\n";
my $msg = "e2e $proto $host $$\n";
defined(send($s, $msg, 0)) or die "send: $!\n";
my $got = '';
while (length($got) < length($msg)) {
	my $rin = '';
	vec($rin, fileno($s), 1) = 1;
	select(my $rout = $rin, undef, undef, 5) > 0 or die "no answer in 5 s\n";
	defined(recv($s, my $buf, 65536, 0)) or die "recv: $!\n";
	last if $buf eq '';
	$got .= $buf;
}
exit($got eq $msg ? 0 : 1);
