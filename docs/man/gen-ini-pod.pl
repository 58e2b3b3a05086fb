#!/usr/bin/perl
# Builds the POD source of tsdirector.ini(5): the committed template (tsdirector.ini.5.pod.in)
# with its @SECTIONS@ line replaced by the section and key reference of docs/configuration.md
# ("## Sections" up to the next "## " heading: "### `[kind]`" headings, their paragraphs and
# their "| key | type | default | range | meaning |" tables). The page cannot drift from the
# reference: it is made from it at build time, and tests/unit/conf/man_page_test.cc checks that
# every key the parser accepts is in the result.
#   usage: gen-ini-pod.pl TEMPLATE CONFIGURATION_MD OUT
use strict;
use warnings;

my ($template, $md, $out) = @ARGV;
die "usage: $0 TEMPLATE CONFIGURATION_MD OUT\n" unless defined $out;

# Markdown inline text -> POD: code spans, bold, links (text only), POD's own < and >.
sub inline {
    my ($s) = @_;
    my @parts = split /(`[^`]*`)/, $s;
    my $r = '';
    for my $p (@parts) {
        my $code = $p =~ s/^`(.*)`$/$1/s;
        $p =~ s/([<>])/$1 eq '<' ? 'E<lt>' : 'E<gt>'/ge;
        if ($code) {
            $r .= "C<< $p >>";
            next;
        }
        $p =~ s/\*\*([^*]+)\*\*/B<< $1 >>/g;
        $p =~ s/\[([^\]]+)\]\([^)]*\)/$1/g;
        $r .= $p;
    }
    return $r;
}

open my $in, "<:encoding(UTF-8)", $md or die "$md: $!\n";
my @lines = <$in>;
close $in;
my ($in_sections, @pod, @para, $items_open) = (0);
my $flush = sub {
    if (@para) {
        push @pod, inline(join(' ', @para)), '';
        @para = ();
    }
};
my $close_items = sub {
    if ($items_open) {
        push @pod, '=back', '';
        $items_open = 0;
    }
};
my $keys = 0;
my $in_table = 0;
for (@lines) {
    chomp;
    $in_table = 0 unless /^\|/;
    if (/^## (.*)/) {
        last if $in_sections;
        $in_sections = 1 if $1 eq 'Sections';
        next;
    }
    next unless $in_sections;
    if (/^### (.*)/) {
        $flush->();
        $close_items->();
        my $h = $1;
        $h =~ s/`//g;
        push @pod, "=head2 $h", '';
    } elsif (/^\|/) {
        $flush->();
        my @c = map { s/^\s+|\s+$//gr } split /\|/, substr($_, 1);
        my $first_row = !$in_table;
        $in_table = 1;
        next if $c[0] eq 'key' || $c[0] =~ /^-+$/;
        if (@c != 5) {
            # Another kind of table (the algorithms in a word): its header is skipped, each
            # row becomes an item whose text is the other cells.
            next if $first_row;
            if (!$items_open) {
                push @pod, '=over 4', '';
                $items_open = 1;
            }
            push @pod, '=item ' . inline($c[0]), '', inline(join('; ', @c[1 .. $#c])), '';
            next;
        }
        my ($key, $type, $def, $range, $meaning) = @c;
        $key =~ s/`//g;
        if (!$items_open) {
            push @pod, '=over 4', '';
            $items_open = 1;
        }
        push @pod, "=item B<$key> = I<" . inline($type) . ">", '';
        my $d = 'Default: ' . inline($def) . '.';
        $d .= ' Values: ' . inline($range) . '.' if $range ne '';
        push @pod, $d, '', inline($meaning), '';
        $keys++;
    } elsif (/^\s*$/) {
        $flush->();
    } else {
        $close_items->();
        push @para, $_;
    }
}
$flush->();
$close_items->();
die "$md: no keys found under '## Sections'\n" unless $keys;

open my $t, "<:encoding(UTF-8)", $template or die "$template: $!\n";
my $text = do { local $/; <$t> };
close $t;
my $ref = join("\n", @pod);
$text =~ s/^\@SECTIONS\@\n/$ref\n/m or die "$template: no \@SECTIONS\@ line\n";
open my $o, ">:encoding(UTF-8)", "$out.tmp" or die "$out.tmp: $!\n";
print $o $text;
close $o or die "$out.tmp: $!\n";
rename "$out.tmp", $out or die "$out: $!\n";
