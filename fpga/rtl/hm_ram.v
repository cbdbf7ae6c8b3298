// On-chip memory: one write port and one read port (simple dual-port, as
// iCE40 SB_RAM40_4K and FPGA block RAMs provide), synchronous read with read
// enable; a read and a write of the same word in one cycle read the old word.
// `q` changes only on a cycle with `re`, so a stalled reader keeps its word
// (the READ response streams at one beat per cycle with backpressure).
// Infers block RAM (iCE40 SB_RAM40_4K, FPGA BRAM) in yosys.
`default_nettype none

module hm_ram #(
    parameter integer DW = 64,
    parameter integer AW = 10
) (
    input  wire          clk,
    input  wire          we,
    input  wire [AW-1:0] waddr,
    input  wire [DW-1:0] wdata,
    input  wire          re,
    input  wire [AW-1:0] raddr,
    output reg  [DW-1:0] q
);
    reg [DW-1:0] mem [0:(1<<AW)-1];

    integer i;
    initial begin
        for (i = 0; i < (1 << AW); i = i + 1) mem[i] = {DW{1'b0}};
        q = {DW{1'b0}};
    end

    always @(posedge clk) begin
        if (we) mem[waddr] <= wdata;
        if (re) q <= mem[raddr];
    end

`ifdef HM_SIM_DUMP
    // Testbench access: dump the whole memory to a file.
    task dump(input integer fd);
        integer k;
        begin
            for (k = 0; k < (1 << AW); k = k + 1) $fdisplay(fd, "M %0d %h", k, mem[k]);
        end
    endtask
`endif
endmodule

`default_nettype wire
