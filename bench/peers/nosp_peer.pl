#!/usr/bin/perl
# Net::OpenSSH::Parallel side of bench/parallel.sh (run by
# BenchmarkParallel64Peers).
#
# usage: nosp_peer.pl SSH_CONFIG HOSTS_FILE PARALLELISM
#
# Reads commands on stdin, one per line, and answers each with one line:
# "ok NANOSECONDS [RUN_NANOSECONDS]" (the time the command took, measured
# here, so that perl's start-up is not counted; for cold, the second
# figure is the part before the teardown) or "err MESSAGE".
#
#   cold   a new Net::OpenSSH::Parallel (workers => PARALLELISM, connections
#          => number of hosts), `true` on every host, then the object is
#          dropped, which stops every master (Net::OpenSSH's DESTROY)
#   open   the same up to the run, keeping the object and its masters
#   warm   one more round of `true` on every host, over the kept masters
#   close  drop the kept object (stops the masters)
#   quit   exit
#
# Every master and slave gets "-F SSH_CONFIG", the ssh_config the other
# clients of the benchmark use (port, user, key, known_hosts, key exchange).
# ssh_version is given so that Net::OpenSSH does not run "ssh -V" for every
# host: its documented way to skip that probe.
use strict;
use warnings;
use Net::OpenSSH::Parallel;
use File::Temp qw(tempdir);
use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC);

my ($cfg, $hosts_file, $par) = @ARGV;
open my $fh, '<', $hosts_file or die "$hosts_file: $!";
my @hosts = map { (split ' ')[0] } grep { /\S/ && !/^#/ } <$fh>;
close $fh;
my $ctl_dir = tempdir("nosp-XXXXXX", TMPDIR => 1, CLEANUP => 1);
(my $ssh_version = `ssh -V 2>&1`) =~ s/^OpenSSH_(\d+\.\d+).*/$1/s;

sub now { clock_gettime(CLOCK_MONOTONIC) }
sub ns  { sprintf "%.0f", $_[0] * 1e9 }

sub start {
    my $p = Net::OpenSSH::Parallel->new(workers => $par, connections => scalar(@hosts));
    for my $h (@hosts) {
        $p->add_host($h, $h,
                     master_opts      => ['-F', $cfg],
                     default_ssh_opts => ['-F', $cfg],
                     ctl_dir          => $ctl_dir,
                     ssh_version      => $ssh_version,
                     timeout          => 30);
    }
    round($p);
    $p;
}

sub round {
    my $p = shift;
    $p->all(cmd => 'true');
    unless ($p->run) {
        my %e = $p->get_errors;
        die join('; ', map { "$_: $e{$_}" } sort keys %e) . "\n";
    }
}

$| = 1;
my $kept;
while (my $line = <STDIN>) {
    chomp $line;
    last if $line eq '' or $line eq 'quit';
    my $t0 = now();
    my $extra = '';
    eval {
        if ($line eq 'cold') {
            my $p = start();
            $extra = ' ' . ns(now() - $t0);
            undef $p;
        } elsif ($line eq 'open') {
            $kept = start();
        } elsif ($line eq 'warm') {
            round($kept);
        } elsif ($line eq 'close') {
            undef $kept;
        } else {
            die "unknown command $line\n";
        }
        1;
    } or do {
        (my $msg = $@) =~ s/\n/ /g;
        print "err $msg\n";
        next;
    };
    print "ok ", ns(now() - $t0), "$extra\n";
}
undef $kept;
